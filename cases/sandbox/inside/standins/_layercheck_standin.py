"""Harmless stand-ins for display-only modules (matplotlib, IPython, tqdm) in the worker.

A student file's leftovers (`import matplotlib.pyplot as plt`, `from IPython.display
import display`, `plt.plot(...)`) import and run without touching the disk, a display or
the network: every attribute is a `Nothing` that can be called, indexed and iterated.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any


class Nothing:
    """Anything a plotting or display call may return: callable, indexable, iterable."""

    def __call__(self, *args: Any, **kwargs: Any) -> Nothing:
        return self

    def __getattr__(self, name: str) -> Nothing:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: Any) -> Nothing:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __enter__(self) -> Nothing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return "<display stand-in>"


NOTHING = Nothing()


def module_getattr(name: str) -> Any:
    """A module-level `__getattr__`: any public name is `NOTHING`."""
    if name.startswith("__"):
        raise AttributeError(name)
    return NOTHING


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves any submodule of a stand-in package that has no file of its own."""

    def __init__(self) -> None:
        self.prefixes: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if any(fullname.startswith(p + ".") for p in self.prefixes):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        mod = types.ModuleType(spec.name)
        mod.__getattr__ = module_getattr  # type: ignore[attr-defined]
        mod.__path__ = []  # type: ignore[attr-defined]
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        pass


_FINDER = _Finder()


def stand_in(package: str) -> None:
    """Let every submodule of `package` without a file of its own be a stand-in too."""
    _FINDER.prefixes.add(package)
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
