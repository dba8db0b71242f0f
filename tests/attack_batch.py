"""A class folder holding every parent-side attack beside honest classmates, for
tests/test_attack_batch.py and for measuring the grader's peak memory at full size:

    .venv/bin/python tests/attack_batch.py OUT_FOLDER [--full]

prints the grader process's peak RSS (graded in one process, --jobs 1) and each entry's exit
code and score. --full uses the sizes the attacks were reported with (a 3.8 MiB parse bomb,
a 27 MB notebook, a 64 MiB sparse file under 800 hard links).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ATTACKS = HERE / "attacks"
LAYERS = "relu,affine"
HONEST = ("good_loops.py", "good_windows.py")


def _with_tools(folder: Path, attack: str) -> None:
    """An attack from tests/attacks as a folder submission (its module and _tools.py)."""
    folder.mkdir()
    shutil.copy(ATTACKS / attack, folder / "layers.py")
    shutil.copy(ATTACKS / "_tools.py", folder / "_tools.py")


def _notebook(path: Path, megabytes: int) -> None:
    """A notebook whose honest layers sit among megabytes of stored outputs."""
    relu = (HERE / "students" / "good_loops.py").read_text()
    out = [{"output_type": "stream", "name": "stdout", "text": ["x" * 1000 + "\n"] * 1000}]
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": out,
              "source": ["print('scratch')\n"]} for _ in range(megabytes)]
    cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                  "source": relu.splitlines(keepends=True)})
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": cells}))


def build(root: Path, full: bool = False) -> dict[str, str]:
    """Write the class into `root`; {entry: "honest" | "attack" (must not come out clean) |
    "load" (spends the grader's time or memory: must not harm the others)}."""
    root.mkdir(parents=True, exist_ok=True)
    entries: dict[str, str] = {}
    for i, name in enumerate(HONEST):
        shutil.copy(HERE / "students" / name, root / f"honest_{i}.py")
        entries[f"honest_{i}"] = "honest"
    for attack in ("crash_aliased_arrays.py", "crash_overlapping_arrays.py",
                   "forge_reply_numbers.py", "text_surrogate_error.py", "text_forged_names.py"):
        _with_tools(root / attack.removesuffix(".py"), attack)
        entries[attack.removesuffix(".py")] = "attack"
    # one character kills the batch; Markdown injection in the same text
    (root / "surrogate_md.py").write_text(
        "class Relu:\n    def forward(self, x):\n"
        "        raise ValueError('\\ud800 ![pwn](http://evil.example/x.png) "
        "[click](http://evil.example) <img src=x onerror=alert(1)>')\n"
        "    def backward(self, dout):\n        return dout\n")
    entries["surrogate_md"] = "attack"
    # the parser's time and memory: a folder of `a;a;a;...` the layer file imports
    bomb = root / "parse_bomb"
    bomb.mkdir()
    (bomb / "layers.py").write_text("import junk  # noqa\n"
                                    + (HERE / "students" / "good_loops.py").read_text())
    (bomb / "junk.py").write_text("a=1\n" + "a;" * (1_900_000 if full else 400_000))
    entries["parse_bomb"] = "load"
    # hashing before grading: one sparse file under many hard-linked names
    links = root / "hard_links"
    links.mkdir()
    shutil.copy(HERE / "students" / "good_windows.py", links / "layers.py")
    with open(links / "blob.bin", "wb") as f:
        f.truncate((64 if full else 8) << 20)
    for k in range(800 if full else 100):
        os.link(links / "blob.bin", links / f"blob_{k}.bin")
    entries["hard_links"] = "load"
    _notebook(root / "big_notebook.ipynb", 27 if full else 4)
    entries["big_notebook"] = "load"
    return entries


def grade(root: Path, out: Path) -> int:
    """Grade the class in this process (--jobs 1); the CLI's exit code."""
    from layercheck.reports.cli import main

    return main(["check", "--each", str(root), "--layers", LAYERS, "--jobs", "1", "--quiet",
                 "--no-shrink", "--json", str(out / "json"), "--md", str(out / "md"),
                 "--html", str(out / "html"), "--gradescope", str(out / "gs"),
                 "--prairielearn", str(out / "pl")])


if __name__ == "__main__":
    target = Path(sys.argv[1])
    shutil.rmtree(target, ignore_errors=True)
    kinds = build(target / "class", full="--full" in sys.argv)
    code = grade(target / "class", target)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"exit {code}; the grader process's peak RSS: {peak:.0f} MiB")
    for name, kind in kinds.items():
        found = sorted((target / "json").glob(f"{name}*.json"))
        d = json.loads(found[0].read_text()) if found else {}
        score = d.get("score") or {}
        print(f"{name:28} {kind:6} exit {d.get('exit_code')} "
              f"score {score.get('earned')}/{score.get('possible')}")
