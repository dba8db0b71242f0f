"""layercheck: hand-written NumPy layers checked against PyTorch within rounding-error bounds.

    >>> import layercheck
    >>> r = layercheck.check_file("my_layers.py", layers=("conv", "pool"))

Subpackages: `impl` (our NumPy layers), `cases` (cases, inputs, adapters, a submission's
files, the sandbox), `reference` (PyTorch truth, bounds, verdicts, diagnoses) and `reports`
(the grading engine, renderers, the command line). This file imports nothing: the sandboxed
worker imports the package too.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CheckResult", "check_file"]


def __getattr__(name: str) -> Any:
    """`check_file` and `CheckResult`, imported on first use (see reports.api)."""
    if name in __all__:
        from layercheck.reports import api

        return getattr(api, name)
    raise AttributeError(f"module 'layercheck' has no attribute {name!r}")
