"""Inputs a table of answers cannot predict: a course's secret, fresh draws for hidden cases.

A student file with no computation at all carries a table of answers made offline with the
public tool (the same grid, arrays seeded by the public ids). Graded without a secret it
passes every case; with a course's secret it must fail, while an honest file passes, the
ids stay the public ones, the truth cache still serves the course, and a failing case's
reproducer still reproduces the student's failure.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.case import Case
from layercheck.cases.inputs import draw_seed, make_inputs
from layercheck.cases.student_grid import student_grid
from layercheck.reports.grading import units
from layercheck.reports.grading.checker import check_submission, inputs_and_truth
from layercheck.reports.grading.draws import PUBLIC, PUBLIC_SECRET, Draws, local_secret
from layercheck.reports.grading.scoring import Hidden

STUDENTS = Path(__file__).parent / "students"
HONEST_RELU = '''import numpy as np


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx
'''


def _table_student(path: Path) -> Path:
    """A Relu that computes nothing: it looks its answers up by the hash of its input, in a
    table made with the public tool for every case of the public grid."""
    rows = []
    for case in student_grid(("relu",), ("f64", "f32")):
        a = make_inputs(case)  # the public draw: what anyone can compute offline
        x, dout = a["x"], a["dout"]
        out, dx = np.maximum(x, 0), np.where(x > 0, dout, 0).astype(x.dtype)
        rows.append(f"    {hashlib.sha256(x.tobytes()).hexdigest()!r}: "
                    f"({out.tobytes()!r}, {dx.tobytes()!r}),")
    path.write_text("import hashlib\nimport numpy as np\n\nTABLE = {\n" + "\n".join(rows)
                    + "\n}\n\n\nclass Relu:\n"
                    "    def forward(self, x):\n"
                    "        self.x = x\n"
                    "        out, _ = TABLE.get(hashlib.sha256(x.tobytes()).hexdigest(),"
                    " (None, None))\n"
                    "        return np.full_like(x, np.nan) if out is None else "
                    "np.frombuffer(out, x.dtype).reshape(x.shape)\n\n"
                    "    def backward(self, dout):\n"
                    "        _, dx = TABLE.get(hashlib.sha256(self.x.tobytes()).hexdigest(),"
                    " (None, None))\n"
                    "        return np.full_like(dout, np.nan) if dx is None else "
                    "np.frombuffer(dx, dout.dtype).reshape(dout.shape)\n")
    return path


def _grade(path: Path, **kw) -> tuple[int, float, object]:
    r = check_submission(path, layers=("relu",), dtypes=("f64", "f32"), do_shrink=False, **kw)
    assert r.load_error is None and r.grader_error is None, (r.load_error, r.grader_error)
    return r.exit_code(), r.score.fraction, r


@pytest.mark.parametrize("secret", ["course-secret", ""])
def test_a_table_of_public_answers_passes_public_draws_and_fails_grading(
        tmp_path: Path, secret: str) -> None:
    """Graded with the course's secret, or with none given (this machine's own)."""
    table = _table_student(tmp_path / "table.py")
    code, fraction, _ = _grade(table, secret=PUBLIC_SECRET)
    assert code == 0 and fraction == 1.0, "the table should pass the public draws (the attack)"
    code, fraction, r = _grade(table, secret=secret)
    failed = {x.id for x in r.results if x.status == "fail"}
    assert code == 1 and len(failed) == len({x.id for x in r.results}), (
        f"graded, every case must fail for a table of public answers: "
        f"{len(failed)} of {len({x.id for x in r.results})} failed, score {fraction}")


def test_this_machines_secret_is_made_once_kept_private_and_read_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERCHECK_CACHE", str(tmp_path / "cache"))
    local_secret.cache_clear()
    try:
        first = local_secret()
        path = tmp_path / "cache" / "secret"
        assert path.read_text().strip() == first and len(first) >= 32
        assert path.stat().st_mode & 0o077 == 0, "the secret file is readable by others"
        local_secret.cache_clear()
        assert local_secret() == first, "the machine's secret must stay the same"
    finally:
        local_secret.cache_clear()


def test_an_honest_file_passes_with_a_secret_and_fresh_hidden_draws(tmp_path: Path) -> None:
    honest = tmp_path / "honest.py"
    honest.write_text(HONEST_RELU)
    code, fraction, r = _grade(honest, secret="course-secret", hidden_share=0.5)
    assert code == 0 and fraction == 1.0, [x.message() for x in r.results if not x.passed]
    ids = {c.id for c in student_grid(("relu",), ("f64", "f32"))}
    assert {x.id for x in r.results} == ids, "ids stay the public ones"


def test_a_table_of_answers_from_an_earlier_grading_misses_the_hidden_cases() -> None:
    """Visible cases are the course's (the same for every submission: the truth cache
    serves them); hidden cases are drawn afresh for each submission."""
    hidden = Hidden(0.5)
    cases = student_grid(("relu",), ("f64",))
    one, two = Draws(b"course", hidden), Draws(b"course", hidden)
    shown = [c for c in cases if not hidden.is_hidden(c.id)]
    kept = [c for c in cases if hidden.is_hidden(c.id)]
    assert shown and kept, "the grid should have both kinds of case at a share of 0.5"
    assert all(one.seed(c) == two.seed(c) for c in shown)
    assert all(one.seed(c) != two.seed(c) for c in kept)
    assert all(one.seed(c) != c.seed for c in cases), "a secret changes every draw"
    assert all(Draws(b"other", hidden).seed(c) != one.seed(c) for c in shown)


def test_without_a_secret_the_draws_are_the_public_ones() -> None:
    case = Case("relu", N=2, C=3, H=4, W=5)
    assert PUBLIC.seed(case) == case.seed == draw_seed(case)
    a, _ = inputs_and_truth(case, "class")
    assert np.array_equal(a["x"], make_inputs(case)["x"])


def test_a_fresh_draw_is_judged_against_its_own_truth() -> None:
    case = Case("relu", N=2, C=3, H=4, W=5)
    draws = Draws(b"course", Hidden(patterns=("relu-*",)))
    a, truth = inputs_and_truth(case, "class", draws)
    assert not np.array_equal(a["x"], make_inputs(case)["x"])
    np.testing.assert_array_equal(truth["out"].value, np.maximum(a["x"], 0))


@pytest.mark.slow
def test_a_reproducer_under_a_secret_reproduces_the_students_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(HONEST_RELU.replace("dx[self.mask] = 0", "dx[self.mask] = 0\n"
                                       "        dx = dx * 1.5"))
    r = check_submission(bad, layers=("relu",), secret="course-secret")
    assert r.exit_code() == 1 and r.shrunk, "the bug should be found and shrunk"
    text = r.shrunk[0].reproducer
    assert "seed=" in text, f"the reproducer must carry the graded draw's seed:\n{text}"
    out = subprocess.run([sys.executable, "-c", text], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) > 0, f"the reproducer should show the error:\n{out}"


def test_networks_and_optimizers_are_drawn_from_the_secret_too() -> None:
    for name in ("sgd", "twolayernet"):
        case = units.unit_cases(name, "class")[0]
        public = units.arrays_of(case, units.inputs_of(case))
        graded = units.arrays_of(case, units.inputs_of(case, Draws(b"course").seed(case)))
        same = [k for k, v in public.items()
                if isinstance(v, np.ndarray) and v.size > 1 and np.array_equal(v, graded[k])]
        assert not same, f"{case.id}: {same} drawn the same with and without the secret"
