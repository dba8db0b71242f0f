"""`layercheck gradescope-autograder`: the zip Gradescope runs, and what runs inside it.

The zip holds `setup.sh` (a virtual environment with the pinned versions of
`requirements.txt`, this layercheck, and the truths of the configured grid computed once),
`run_autograder` (checks /autograder/submission, writes /autograder/results/results.json),
`autograder.json` (the course's API, layers, dtypes, limits, hidden cases and visibility:
read back as one `GradingOptions`) and the layercheck source. `AUTOGRADER_ROOT` (default
/autograder) and `LAYERCHECK_PYTHON` (default the environment setup.sh made) let the same
script run against a fake tree in tests.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import secrets
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from layercheck.cases.student_grid import student_grid
from layercheck.reports.gradescope import VISIBILITIES, Grading, write_gradescope
from layercheck.reports.grading.batch import check_one
from layercheck.reports.grading.checker import DEFAULT_LAYERS, LAYERS_BY_API, inputs_and_truth
from layercheck.reports.grading.options import LAYERS, GradingOptions, csv_of
from layercheck.reports.student_cli import _dtypes

ROOT = Path(__file__).resolve().parents[2]  # the `layercheck` package (a checkout or installed)
SOURCE_PARTS = ("__init__.py", "impl", "reference", "cases", "reports")
# The zip's layercheck/pyproject.toml: the package as it is here, its dependencies pinned in
# requirements.txt; written from the files, so a zip built from an installed wheel builds too.
PYPROJECT = """[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "layercheck"
version = "{version}"
requires-python = ">=3.10"

[project.scripts]
layercheck = "layercheck.reports.cli:console"

[tool.setuptools]
package-dir = {{"layercheck" = "."}}
packages = {packages}

[tool.setuptools.package-data]
"layercheck.cases.sandbox.inside" = ["standins/*.py", "standins/*/*.py"]
"""
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
SUBMISSION_SUFFIXES = (".py", ".ipynb")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when the autograder image is built (AUTOGRADER_ROOT: elsewhere).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
cd "$ROOT/source"
if ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3 python3-venv python3-pip
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --upgrade pip
INDEX="${{LAYERCHECK_TORCH_INDEX-{index}}}"  # PyTorch's CPU wheels; empty: PyPI alone
"$ROOT/venv/bin/pip" install ${{INDEX:+--extra-index-url "$INDEX"}} -r requirements.txt
"$ROOT/venv/bin/pip" install --no-deps ./layercheck
# Every submission is judged against the same truths: compute them now, once.
LAYERCHECK_CACHE="$ROOT/source/truth-cache" \\
    "$ROOT/venv/bin/python" -m layercheck.reports.grading.autograder warm --config autograder.json
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: /autograder/submission -> results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${LAYERCHECK_PYTHON:-$ROOT/venv/bin/python}"
export LAYERCHECK_CACHE="${LAYERCHECK_CACHE:-$ROOT/source/truth-cache}"
cd "$ROOT/source" || exit 3
exec "$PY" -m layercheck.reports.grading.autograder run --root "$ROOT"
"""


def pinned_requirements() -> list[str]:
    """`name==version` for every dependency of layercheck, as installed here."""
    try:
        reqs = metadata.requires("layercheck") or []
    except metadata.PackageNotFoundError as e:
        raise SystemExit("layercheck is not installed here (pip install -e .): its "
                         "dependencies cannot be pinned") from e
    out = []
    for req in reqs:
        if "extra ==" in req:
            continue
        name = re.match(r"[A-Za-z0-9_.\-]+", req).group(0)
        marker = req.split(";", 1)[1].strip() if ";" in req else ""
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            if marker:
                continue  # a platform-only dependency absent on this platform
            raise SystemExit(f"dependency {name} is not installed here: cannot pin it") from None
        out.append(f"{name}=={version}" + (f"; {marker}" if marker else ""))
    return out


def config(args: argparse.Namespace) -> dict[str, Any]:
    """autograder.json from the command's options."""
    grading = Grading(args.hidden_share, tuple(args.hidden_pattern or ()),
                      args.hidden_visibility, dict(v.split("=", 1) for v in args.visibility or ()),
                      args.default_visibility)
    options = GradingOptions(layers=args.layers, dtypes=tuple(args.dtype), api=args.api,
                             timeout=args.timeout, budget=args.budget,
                             allow_torch=args.allow_torch,
                             unsafe_no_isolation=args.unsafe_no_isolation,
                             secret=secrets.token_hex(16))  # this autograder's own draws
    return {**options.to_config(), "grading": grading.to_json(),
            "python": sys.version.split()[0],
            "built": time.strftime("%Y-%m-%d %H:%M:%S")}


def pyproject() -> str:
    """The zip's pyproject.toml: this package's version and subpackages."""
    inside = ROOT / "cases" / "sandbox" / "inside" / "standins"
    packages = ["layercheck", *sorted(
        "layercheck." + ".".join(d.relative_to(ROOT).parts) for d in ROOT.rglob("*")
        if (d / "__init__.py").is_file() and d.relative_to(ROOT).parts[0] in SOURCE_PARTS
        and inside not in (d, *d.parents))]
    return PYPROJECT.format(version=metadata.version("layercheck"), packages=json.dumps(packages))


def source_files() -> list[Path]:
    """The layercheck files the zip carries (sources, not caches or tests)."""
    out = []
    for part in SOURCE_PARTS:
        p = ROOT / part
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                          and f.suffix == ".py")
    return out


def _add_text(z: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text)


def build(out: Path, cfg: dict[str, Any]) -> Path:
    """Write the autograder zip; the path written."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        _add_text(z, "setup.sh", SETUP_SH.format(index=TORCH_INDEX), executable=True)
        _add_text(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add_text(z, "requirements.txt", "\n".join(pinned_requirements()) + "\n")
        _add_text(z, "autograder.json", json.dumps(cfg, indent=1) + "\n")
        _add_text(z, "layercheck/pyproject.toml", pyproject())
        for f in source_files():
            z.write(f, f"layercheck/{f.relative_to(ROOT)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return out


def load_config(path: Path) -> dict[str, Any]:
    """autograder.json, checked: a clear message for what is wrong in it."""
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"cannot read the autograder config {path}: {e}") from e
    if not isinstance(cfg, dict):
        raise SystemExit(f"{path}: expected a JSON object")
    try:
        GradingOptions.from_config(cfg)
        Grading.from_json(cfg.get("grading") or {})
    except (TypeError, ValueError) as e:
        raise SystemExit(f"{path}: {e}") from e
    return cfg


def find_submission(folder: Path) -> Path:
    """What Gradescope uploaded: its one file, else the folder (a repository)."""
    entries = [e for e in folder.iterdir() if not e.name.startswith((".", "__"))]
    files = [e for e in entries if e.is_file() and e.suffix in SUBMISSION_SUFFIXES]
    if len(files) == 1 and not any(e.is_dir() for e in entries):
        return files[0]
    return folder


def run(root: Path) -> int:
    """Check root/submission with root/source/autograder.json; write root/results."""
    cfg = load_config(root / "source" / "autograder.json")
    grading = Grading.from_json(cfg.get("grading") or {})
    results = root / "results" / "results.json"
    folder = root / "submission"
    if not folder.is_dir():
        raise SystemExit(f"no submission folder at {folder}")
    target = find_submission(folder)
    # never climbs above /autograder/submission (the grader's files); the hidden cases are
    # the config's, so the score is split as results.json shows it
    report = check_one(str(target), GradingOptions.from_config(cfg))
    write_gradescope(report, results, grading)
    print(f"layercheck: {target.name}: exit {report.exit_code()}; results in {results}")
    return 0  # Gradescope reads results.json; a failing student is not a failed autograder


def warm(cfg_path: Path) -> int:
    """Compute (and cache) the truths of the configured grid for the configured API (both
    APIs where it is detected)."""
    cfg = load_config(cfg_path)
    n = 0
    for api, layers in LAYERS_BY_API.items():
        if cfg.get("api") not in (None, api):
            continue
        wanted = tuple(x for x in (cfg.get("layers") or DEFAULT_LAYERS[api]) if x in layers)
        for case in student_grid(wanted, tuple(cfg.get("dtypes") or ("f64",)), api):
            inputs_and_truth(case, api)
            n += 1
    print(f"layercheck: {n} truths ready")
    return 0


def cmd_autograder(args: argparse.Namespace) -> int:
    out = build(Path(args.out), config(args))
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB): upload it as the Gradescope "
          f"autograder (configuration: autograder.json inside)")
    return 0


def _visibility(text: str) -> str:
    if "=" not in text or text.split("=", 1)[1] not in VISIBILITIES:
        raise argparse.ArgumentTypeError(f"expected TEST-PATTERN=VISIBILITY with visibility "
                                         f"one of {', '.join(VISIBILITIES)}, got {text!r}")
    return text


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, got {text!r}")
    return v


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("gradescope-autograder", help="build the Gradescope autograder zip",
                       description=__doc__.split("\n\n")[0])
    c.add_argument("--out", default="autograder.zip", help="zip to write (autograder.zip)")
    c.add_argument("--api", choices=("class", "functional"), default=None,
                   help="the course's API, graded as given (default: detected per file; a "
                        "file offering both APIs is graded on both, the lower score stands)")
    c.add_argument("--layers", type=csv_of(LAYERS), default=None,
                   help="the graded layers (default: the classic layers of the student's "
                        "API); a graded layer the submission lacks scores 0")
    c.add_argument("--dtype", type=_dtypes, default=("f64",), help="float64 and/or float32")
    c.add_argument("--timeout", type=float, default=5.0, help="seconds per case")
    c.add_argument("--budget", type=float, default=600.0, help="seconds per submission")
    c.add_argument("--allow-torch", action="store_true", help="students may import torch")
    c.add_argument("--unsafe-no-isolation", action="store_true",
                   help="where the autograder's container forbids user namespaces, run the "
                        "student without layercheck's own sandbox (the per-submission "
                        "container is then the only boundary; outputs say NOT ISOLATED)")
    c.add_argument("--hidden-share", type=_share, default=0.0,
                   help="share of cases hidden from students (stable choice by case id)")
    c.add_argument("--hidden-pattern", action="append", metavar="GLOB",
                   help="case ids to hide, e.g. '*-s2-*' (repeatable)")
    c.add_argument("--hidden-visibility", choices=VISIBILITIES, default="after_published",
                   help="visibility of the hidden-case tests (default after_published)")
    c.add_argument("--default-visibility", choices=VISIBILITIES, default="visible",
                   help="visibility of the other tests (default visible)")
    c.add_argument("--visibility", action="append", type=_visibility, metavar="TEST=VIS",
                   help="per-test visibility by name pattern, e.g. 'policy*=hidden'")
    c.set_defaults(func=cmd_autograder)


def main(argv: list[str] | None = None) -> int:
    """`python -m layercheck.reports.grading.autograder run --root R` | `warm --config C`
    (inside the zip)."""
    p = argparse.ArgumentParser(prog="layercheck.reports.grading.autograder")
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("--root", default="/autograder")
    w = sub.add_parser("warm")
    w.add_argument("--config", default="autograder.json")
    args = p.parse_args(argv)
    return run(Path(args.root)) if args.what == "run" else warm(Path(args.config))


if __name__ == "__main__":
    sys.exit(main())
