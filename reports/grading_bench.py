"""`make bench-grading`: how fast a course is graded.

Generates a folder of synthetic submissions from the fixture students in tests/students/
(correct and wrong, vectorised and loop-based; a wrong one built on a correct one gets that
file inlined, so every submission is one self-contained file with its own content; the
curricula's other layers, batch norm, dropout, ..., appended unless --no-curricula), then
times, each as a user would run it (a `layercheck` subprocess, command to verdict):
- the batch: `layercheck check --each SUBS --jobs J`, starting from an EMPTY truth cache;
- one file, cold (empty cache) and warm (second run), median of a few warm runs.
Prints a table and writes results.json next to the submissions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from layercheck.reports.grading.checker import LAYERS_BY_API

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ROOT / "tests" / "students"
VECTORISED = {
    "good": ("good_im2col.py", "good_windows.py", "good_book_softmax.py"),
    "bad": ("bad_affine_flat_dx.py", "bad_bias_axis.py", "bad_db_batch.py",
            "bad_dw_no_transpose.py", "bad_float32.py", "bad_out_size.py",
            "bad_pool_tie_last.py", "bad_pool_zero_pad.py", "bad_relu_grad0.py",
            "bad_softmax_eps.py", "bad_softmax_nomax.py", "bad_inplace.py",
            "bad_crash_forward.py"),
}
LOOPS = {"good": ("good_loops.py", "good_functional.py"), "bad": ("bad_functional_db.py",)}
# The curricula's other layers (batch norm, dropout, ...), appended to every submission of
# their API unless --no-curricula: a course's full assignment, not only the classic layers.
CURRICULA = {"class": "good_curricula_book.py", "functional": "good_curricula_cs231n.py"}
FUNCTIONAL = ("good_functional.py", "bad_functional_db.py")


def inlined(name: str) -> str:
    """The fixture as one self-contained file: `from good_x import ...` replaced by good_x."""
    text = (STUDENTS / name).read_text()
    for base in ("good_im2col", "good_functional"):
        if f"from {base} import" not in text:
            continue
        body = inlined(f"{base}.py")
        text = re.sub(rf"^from {base} import \*.*$", lambda _, body=body: body, text, count=1,
                      flags=re.M)
        text = re.sub(rf"^(\s*)from {base} import (\w+) as (\w+).*$", r"\1\3 = \2", text,
                      flags=re.M)
        text = re.sub(rf"^(\s*)from {base} import [\w, ]+.*$", r"\1pass", text, flags=re.M)
    if re.search(r"^\s*(from|import) good_", text, flags=re.M):
        raise ValueError(f"{name} still imports another fixture")
    compile(text, name, "exec")
    return text


def with_curricula(name: str, text: str) -> str:
    """The submission with the curricula's other layers of its API appended."""
    extra = (STUDENTS / CURRICULA["functional" if name in FUNCTIONAL else "class"]).read_text()
    return text + "\n\n# the curricula's other layers\n" + extra


def generate(folder: Path, count: int, kind: str, curricula: bool = True) -> list[Path]:
    """`count` submissions in `folder`, every other one wrong."""
    pools = {"vectorised": [VECTORISED], "loops": [LOOPS], "mixed": [VECTORISED, LOOPS]}[kind]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        pool = pools[i % len(pools)]
        wrong = (i // len(pools)) % 2 == 1
        names = pool["bad" if wrong else "good"]
        src = names[(i // (2 * len(pools))) % len(names)]
        p = folder / f"student{i:04d}_{src.removesuffix('.py')}.py"
        text = inlined(src)
        if curricula:
            text = with_curricula(src, text)
        p.write_text(f"# ruff: noqa\n# synthetic submission {i} for the grading benchmark\n"
                     + text)
        out.append(p)
    return out


CPU = {"s": 0.0}  # CPU seconds (user + sys) of the last command and all its processes


def _layercheck(*args: str, cache: Path) -> tuple[float, int, str]:
    env = {**os.environ, "LAYERCHECK_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "layercheck.reports.cli", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU["s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, r.returncode, r.stdout + r.stderr


def run(count: int, jobs: int, kind: str, out: Path, warm_runs: int = 3,
        curricula: bool = True) -> dict:
    """Generate, time the batch and the single file; the figures as a dict."""
    subs = out / "subs"
    if subs.exists():
        for p in subs.glob("*.py"):
            p.unlink()
    files = generate(subs, count, kind, curricula)
    single = out / "single" / "good_im2col.py"
    single.parent.mkdir(parents=True, exist_ok=True)
    text = inlined("good_im2col.py")
    single.write_text(with_curricula("good_im2col.py", text) if curricula else text)
    # the graded layers are configured, never inferred: name the curricula's when appended
    # vectorised submissions are all of the class API; the others mix both APIs, where a
    # layer one API lacks is one 'not in this API' row (never run, but a failed layer)
    apis = ("class",) if kind == "vectorised" else tuple(LAYERS_BY_API)
    every = dict.fromkeys(layer for api in apis for layer in LAYERS_BY_API[api])
    layers = ("--layers", ",".join(every)) if curricula else ()
    with tempfile.TemporaryDirectory(prefix="layercheck-bench-cache-") as tmp:
        cache = Path(tmp)
        load0 = os.getloadavg()[0]
        wall, rc, text = _layercheck("check", "--each", str(subs), "--jobs", str(jobs),
                                     "--json", str(out / "json"), "--quiet", "--no-progress",
                                     *layers, cache=cache / "batch")
        batch_cpu = CPU["s"]
        if rc not in (0, 1):
            raise SystemExit(f"the batch failed (exit {rc}):\n{text[-3000:]}")
        codes = [json.loads(p.read_text()).get("exit_code") for p in (out / "json").glob("*.json")]
        cold, _, _ = _layercheck("check", str(single), *layers, cache=cache / "single")
        cold_cpu = CPU["s"]
        warm, warm_cpu = [], []
        for _ in range(warm_runs):
            warm.append(_layercheck("check", str(single), *layers, cache=cache / "single")[0])
            warm_cpu.append(CPU["s"])
    return {"submissions": count, "kind": kind, "curricula": curricula, "jobs": jobs,
            "batch_wall_s": round(wall, 2),
            "per_submission_per_core_s": round(wall * jobs / count, 3),
            "batch_cpu_s": round(batch_cpu, 1), "cpu_per_submission_s": round(batch_cpu / count, 3),
            "single_cold_cpu_s": round(cold_cpu, 2),
            "single_warm_cpu_s": round(statistics.median(warm_cpu), 2),
            "passed": codes.count(0), "failed": codes.count(1), "other": len(codes)
            - codes.count(0) - codes.count(1), "single_cold_s": round(cold, 2),
            "single_warm_s": round(statistics.median(warm), 2),
            "load_average_at_start": round(load0, 2), "cpus": os.cpu_count(),
            "files": len(files)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m layercheck.reports.grading_bench",
                                description=__doc__)
    p.add_argument("--count", type=int, default=200, help="submissions (default 200)")
    p.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    p.add_argument("--kind", choices=("vectorised", "loops", "mixed"), default="vectorised")
    p.add_argument("--out", default="out/bench-grading", help="folder for submissions, JSON")
    p.add_argument("--no-curricula", action="store_true",
                   help="only the classic layers (no batch norm, dropout, ... appended)")
    args = p.parse_args(argv)
    if args.count < 1 or args.jobs < 1:
        p.error("--count and --jobs must be at least 1")
    out = Path(args.out)
    res = run(args.count, args.jobs, args.kind, out, curricula=not args.no_curricula)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    print(f"curricula layers included: {res['curricula']}")
    print(f"| submissions | kind | jobs | batch wall (s) | per submission per core (s) | "
          f"one file, cold (s) | one file, warm (s) |\n|---|---|---|---|---|---|---|\n"
          f"| {res['submissions']} | {res['kind']} | {res['jobs']} | {res['batch_wall_s']} | "
          f"{res['per_submission_per_core_s']} | {res['single_cold_s']} | "
          f"{res['single_warm_s']} |")
    print(f"CPU time (user + sys, every process): batch {res['batch_cpu_s']} s = "
          f"{res['cpu_per_submission_s']} s per submission; one file cold "
          f"{res['single_cold_cpu_s']} s, warm {res['single_warm_cpu_s']} s")
    print(f"{res['passed']} passed, {res['failed']} failed, {res['other']} other; load average "
          f"at start {res['load_average_at_start']} on {res['cpus']} CPUs (other work on the "
          f"machine slows the wall times, not the CPU times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
