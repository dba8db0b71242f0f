"""Networks and optimizers graded end to end: `layercheck check --layers adam,fcnet,...` runs
them in the sandbox, judges them here, scores them from the registry and renders them
(terminal, JSON, Gradescope, PrairieLearn) like the layers."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases import net_cases, optim_cases, registry
from layercheck.cases.sandbox import replies
from layercheck.cases.sandbox.replies import Malformed
from layercheck.cases.submission import survey
from layercheck.reports import unit_runs
from layercheck.reports.class_report import finding_key
from layercheck.reports.gradescope import results_json
from layercheck.reports.grading import units
from layercheck.reports.grading.checker import StudentReport, check_submission
from layercheck.reports.prairielearn import pl_results

STUDENTS = Path(__file__).resolve().parent / "students"
NETS, OPTIM = STUDENTS / "nets", STUDENTS / "optim"
LAYERCHECK = str(Path(sys.executable).parent / "layercheck")  # the console script
BOOK_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
CS231N_OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def _file(tmp: Path, name: str, *parts: Path) -> Path:
    """One student file made of the fixture files `parts` (later definitions win)."""
    path = tmp / name
    path.write_text("\n\n".join(p.read_text() for p in parts))
    return path


@cache
def _checked(name: str, parts: tuple[Path, ...], layers: tuple[str, ...]) -> StudentReport:
    tmp = Path(tempfile.mkdtemp(prefix="lc-units-"))
    return check_submission(_file(tmp, name, *parts), layers=layers)


def _book_good() -> StudentReport:
    return _checked("book_units.py", (NETS / "good_book_multilayernet.py",
                                      NETS / "good_book_multilayernet_extend.py",
                                      NETS / "good_book_simpleconvnet.py",
                                      OPTIM / "good_book_optimizers.py"),
                    ("simpleconvnet", "multilayernet", *BOOK_OPTIMIZERS))


def _cs231n_good() -> StudentReport:
    return _checked("cs231n_units.py", (NETS / "good_cs231n_convnet3.py",
                                        NETS / "good_cs231n_nets.py",
                                        NETS / "good_cs231n_fcnet_layernorm.py",
                                        OPTIM / "good_cs231n_optim.py"),
                    ("twolayernet", "fcnet", "convnet3", *CS231N_OPTIMIZERS))


def _book_bad() -> StudentReport:
    return _checked("book_bad.py", (NETS / "bad_book_convnet_pool_grad_first.py",
                                    OPTIM / "good_book_optimizers.py",
                                    OPTIM / "bad_book_momentum_sign.py"),
                    ("simpleconvnet", "momentum", "adam"))


def _cs231n_bad() -> StudentReport:
    return _checked("cs231n_bad.py", (NETS / "bad_cs231n_fcnet_reg_grad_missing.py",
                                      OPTIM / "bad_cs231n_adam_state_reset.py"),
                    ("fcnet", "adam", "sgd"))


# --- correct students: exit 0, every point -------------------------------------------------


@pytest.mark.parametrize("make, api, names", [
    (_book_good, "class", ("simpleconvnet", "multilayernet", *BOOK_OPTIMIZERS)),
    (_cs231n_good, "functional", ("twolayernet", "fcnet", "convnet3", *CS231N_OPTIMIZERS)),
], ids=["book", "cs231n"])
def test_a_correct_student_passes_every_network_and_optimizer_with_full_points(
        make, api: str, names: tuple[str, ...]) -> None:
    report = make()
    assert report.api == api and report.load_error is None and report.grader_error is None
    assert report.exit_code() == 0, [r.message() for r in report.results if not r.passed][:3]
    assert {r.layer for r in report.results} == set(names)
    score = report.score
    assert score is not None and score.earned == score.possible
    for name in names:
        unit = registry.unit(name)
        assert score.layer_points(name) == (10.0, 10.0)
        for phase in unit.phases:  # every phase judged on cases, none empty
            assert any(r.layer == name and r.phase == phase for r in report.results)


# --- buggy students: the right unit, step or parameter, and the cause -------------------------


def _first_bad(report: StudentReport, layer: str):
    return next(r for r in report.results if r.layer == layer and not r.passed)


def test_a_buggy_book_student_fails_at_the_layer_and_step_with_the_cause() -> None:
    report = _book_bad()
    assert report.exit_code() == 1
    net = _first_bad(report, "simpleconvnet")
    assert net.phase == "grad" and net.output == "grads[W1]"
    assert "grads['W1'] (Conv1)" in net.diagnosis
    # the loss is right: the bug is in the gradient only
    assert all(r.passed for r in report.results if r.layer == "simpleconvnet"
               and r.phase == "loss")
    opt = _first_bad(report, "momentum")
    assert (opt.phase, opt.output) == ("update", "W1@1") and "gradient ascent" in opt.diagnosis
    assert all(r.passed for r in report.results if r.layer == "adam")
    score = report.score
    assert score is not None
    assert score.layer_points("adam") == (10.0, 10.0)
    assert score.layer_points("momentum") == (0.0, 10.0)
    earned, possible = score.layer_points("simpleconvnet")
    assert earned == 5.0 and possible == 10.0  # loss right, gradients wrong
    shrunk = {s.layer: s for s in report.shrunk}
    assert shrunk["momentum"].output == "W1@1"
    assert shrunk["momentum"].case.startswith("momentum-book-")
    assert "import book_bad as m" in shrunk["simpleconvnet"].reproducer


def test_a_buggy_cs231n_student_fails_at_the_parameter_and_step_with_the_cause() -> None:
    report = _cs231n_bad()
    fc = [r for r in report.results if r.layer == "fcnet" and not r.passed]
    assert any("reg term is missing from grads['W3'] (loss includes it)" in r.diagnosis
               for r in fc)
    adam = _first_bad(report, "adam")
    assert adam.output.endswith("@2") and "does not keep its state" in adam.diagnosis
    # sgd is not defined in that file: missing, 0 points, and named
    assert {r.status for r in report.results if r.layer == "sgd"} == {"missing"}
    assert report.undefined["sgd"][0] == "sgd"
    assert "sgd" in report.required_missing()
    assert report.score is not None and report.score.layer_points("sgd") == (0.0, 10.0)


def test_unit_rows_carry_codes_and_the_class_report_groups_by_them() -> None:
    report = _cs231n_bad()
    fc = [r for r in report.results if r.layer == "fcnet" and "reg_missing_in_grad" in r.causes]
    adam = _first_bad(report, "adam")
    assert fc and adam.causes == ("state_not_kept",)
    for r in (fc[0], adam):
        row = {"diagnosis": r.diagnosis,
               "diagnoses": [d.to_json() for d in r.diagnoses]}
        key, _ = finding_key(r.layer, row)
        assert key.startswith(f"{r.layer}: ") and r.causes[0] in key
        # the same cause with other words groups with it: the key is made of codes only
        row["diagnosis"] = "other words"
        assert finding_key(r.layer, row)[0] == key


def test_a_unit_the_api_lacks_is_missing_there() -> None:
    report = _checked("only_nesterov.py", (OPTIM / "good_cs231n_optim.py",), ("nesterov",))
    assert report.api == "functional"
    assert [(r.layer, r.status) for r in report.results] == [("nesterov", "missing")]
    assert "functional API has no nesterov" in report.results[0].diagnosis


# --- the command line and the renderers -----------------------------------------------------


def test_the_command_line_grades_networks_and_optimizers(tmp_path: Path) -> None:
    path = _file(tmp_path, "cli_units.py", OPTIM / "good_book_optimizers.py")
    out = subprocess.run([LAYERCHECK, "check", str(path), "--json", str(tmp_path / "r.json"),
                          "--layers", "adam,sgd"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads((tmp_path / "r.json").read_text())
    assert {c["layer"] for c in data["cases"]} == {"adam", "sgd"}
    assert {c["phase"] for c in data["cases"]} == {"update"}
    assert data["score"]["earned"] == data["score"]["possible"] == 30.0  # 2 x 10 + policy
    bad = _file(tmp_path, "cli_bad.py", OPTIM / "bad_book_sgd_ascent.py")
    out = subprocess.run([LAYERCHECK, "check", str(bad),
                          "--layers", "sgd"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "sgd" in out.stdout and "update" in out.stdout and "gradient ascent" in out.stdout


def test_gradescope_and_prairielearn_count_the_units_like_layers() -> None:
    report = _book_bad()
    tests = results_json(report)["tests"]
    names = " ".join(t["name"] for t in tests)
    for unit in ("simpleconvnet", "momentum", "adam"):
        assert unit in names
    total = sum(t["score"] for t in tests)
    assert total == pytest.approx(report.score.earned)
    pl = pl_results(report)
    assert pl["score"] == pytest.approx(report.score.fraction)


# --- the worker's replies are held to the case's names and types ------------------------------


def _reply(**fields: object) -> dict:
    msg = {"type": "unit_reply", "outputs": {}, "error": None, "error_type": None,
           "error_phase": None, "error_step": None, "traceback": None, "missing": False,
           "rebound": [], "returned": [], "notes": [], "grads_dict": False, "seconds": 0.01}
    msg.update(fields)
    return msg


def test_a_unit_reply_is_read_back_as_the_run() -> None:
    case = optim_cases.OptimCase("adam", "cs231n", P=2, steps=2)
    w = np.ones((4, 3))
    run = replies.unit_reply(_reply(outputs={"s1:W1": w, "s1:W1:t": 1},
                                    returned=[[1, "dict"]]), case, 5.0)
    assert len(run.params) == 1 and run.params[0]["W1"] is w and run.params[0]["b1"] is None
    assert run.state[0]["W1"]["t"] == 1 and run.returned == [(1, "dict")]
    net = net_cases.NetCase("fcnet", "cs231n", hidden=(6, 5))
    nrun = replies.unit_reply(_reply(outputs={"loss": 1.5, "grads:W3": w}, grads_dict=True),
                              net, 5.0)
    assert nrun.loss == 1.5 and set(nrun.grads) == {"W3"}


@pytest.mark.parametrize("fields, words", [
    ({"outputs": {"s9:W1": 1.0}}, "an output named"),
    ({"outputs": {"s1:W1": [1, 2]}}, "which the worker never sends"),
    ({"error_step": 3}, "error_step"),
    ({"error_step": True}, "error_step"),
    ({"error_phase": "construct"}, "error_phase"),
    ({"rebound": [[1, "W9"]]}, "rebound"),
    ({"returned": [[0, "dict"]]}, "returned"),
    ({"missing": 1}, "missing"),
    ({"notes": ["x"] * 50}, "notes"),
    ({"seconds": float("nan")}, "seconds"),
])
def test_a_malformed_unit_reply_is_refused(fields: dict, words: str) -> None:
    case = optim_cases.OptimCase("sgd", "cs231n", P=2, steps=2)
    with pytest.raises(Malformed, match=words):
        replies.unit_reply(_reply(**fields), case, 5.0)


def test_a_net_reply_names_only_the_cases_gradients() -> None:
    net = net_cases.NetCase("twolayernet", "book")
    with pytest.raises(Malformed, match="an output named"):
        replies.unit_reply(_reply(outputs={"grads:W7": 1.0}), net, 5.0)
    with pytest.raises(Malformed, match="error_phase"):
        replies.unit_reply(_reply(error_phase="elsewhere"), net, 5.0)


# --- grids and cached truths ------------------------------------------------------------------


@pytest.mark.parametrize("name", registry.names(None)[len(registry.names()):])
def test_every_network_and_optimizer_has_student_cases_in_each_of_its_apis(
        name: str) -> None:
    unit = registry.unit(name)
    for api in unit.apis():
        cases = units.unit_cases(name, api)
        assert cases and all(c.layer == name for c in cases)
        assert {units.CURRICULUM[api]} == {c.api for c in cases}


def test_a_cached_truth_reads_back_as_computed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAYERCHECK_CACHE", str(tmp_path))
    for case in (optim_cases.OptimCase("adam", "cs231n", P=2, steps=3),
                 net_cases.NetCase("fcnet", "cs231n", hidden=(6, 5), reg=0.1),
                 net_cases.NetCase("twolayernet", "book")):  # with its numerical quotients
        inputs = units.inputs_of(case)
        computed = units.truth(case, inputs)
        units._memory.clear()
        again = units.truth(case, inputs)
        assert again is not computed
        a, b = units._flatten(computed), units._flatten(again)
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k].value, b[k].value) and a[k].phase == b[k].phase
            assert np.array_equal(a[k].bound, b[k].bound)
    assert list(tmp_path.rglob("unit-*.npz"))


def test_a_net_case_time_limit_grows_with_its_parameters_within_the_budget() -> None:
    small = net_cases.NetCase("twolayernet", "book")
    big = net_cases.NetCase("twolayernet", "book", D=20, hidden=(10,), C=5)
    n_small = sum(int(np.prod(s)) for s in small.param_shapes().values())
    assert n_small == 5 * 6 + 6 + 6 * 3 + 3
    assert units.case_time_limit(small, 5.0, 600.0) == pytest.approx(
        5.0 + units.NET_SECONDS_PER_PARAM * n_small)
    assert units.case_time_limit(big, 5.0, 600.0) > units.case_time_limit(small, 5.0, 600.0)
    assert units.case_time_limit(big, 5.0, 2.5) == 2.5  # never past the total budget
    assert units.case_time_limit(big, 5.0, -1.0) == 0.0
    adam = optim_cases.OptimCase("adam", "cs231n", P=2, steps=3)
    assert units.case_time_limit(adam, 5.0, 600.0) == 5.0  # optimizers: the usual limit


def test_every_net_case_is_small_enough_for_a_numerical_gradient() -> None:
    for case in net_cases.grid():
        n = sum(int(np.prod(s)) for s in case.param_shapes().values())
        assert n <= units.MAX_NET_PARAMS, (case.id, n)


def test_a_numerical_gradient_net_is_judged_by_its_values_not_its_speed() -> None:
    """A per-case timeout (1 ms) far below what a numerical gradient needs (it times out
    under that limit alone): the net's own limit, scaled by its parameters, lets it finish,
    and its values pass."""
    report = _checked_with("book_numerical.py", (NETS / "good_book_twolayernet_numerical.py",),
                           ("twolayernet",), 0.001)
    assert report.load_error is None and report.grader_error is None
    rows = [r for r in report.results if r.layer == "twolayernet"]
    assert rows and all(r.passed for r in rows), [r.message() for r in rows if not r.passed]


def test_a_one_sided_numerical_gradient_is_flagged_with_its_cause() -> None:
    report = _checked_with("book_one_sided.py",
                           (NETS / "bad_book_twolayer_numerical_one_sided.py",),
                           ("twolayernet",), 0.05)
    bad = _first_bad(report, "twolayernet")
    assert bad.phase == "grad" and bad.status == "fail"
    assert "is a numerical gradient off by more than" in bad.diagnosis


def _checked_with(name: str, parts: tuple[Path, ...], layers: tuple[str, ...],
                  timeout: float) -> StudentReport:
    tmp = Path(tempfile.mkdtemp(prefix="lc-units-"))
    return check_submission(_file(tmp, name, *parts), layers=layers, timeout=timeout)


# --- impl/'s own optimizers and network, in `layercheck report` -----------------------------


def test_impls_optimizers_and_network_pass_as_a_students_would() -> None:
    rows = unit_runs.impl_results(None, ("f64",))
    assert {r.layer for r in rows} == {*BOOK_OPTIMIZERS, "simpleconvnet"}
    assert {r.params["api"] for r in rows if r.layer == "adam"} == {"book", "cs231n"}
    assert all(r.passed for r in rows), [r.message() for r in rows if not r.passed][:3]


def test_the_report_lists_impls_optimizers_beside_the_layers(tmp_path: Path) -> None:
    out = subprocess.run([LAYERCHECK, "report", "--grid", "quick", "--layers", "relu,adam",
                          "--no-speed", "--no-training", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    cases = json.loads((tmp_path / "results.json").read_text())["cases"]
    assert {c["layer"] for c in cases} == {"relu", "adam"}
    assert {c["phase"] for c in cases if c["layer"] == "adam"} == {"update"}


# --- pytest --impl ------------------------------------------------------------------------------


def _pytest_impl(tmp: Path, student: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "--impl", str(student), "-k",
                           "network_or_optimizer", "-rs"], capture_output=True, text=True,
                          timeout=600, cwd=tmp)


def test_pytest_impl_runs_a_students_optimizers_in_the_suite(tmp_path: Path) -> None:
    good = _pytest_impl(tmp_path, OPTIM / "good_book_optimizers.py")
    assert good.returncode == 0, good.stdout[-2000:]
    assert " passed" in good.stdout and "the class API has no cs231n" in good.stdout
    bad = _pytest_impl(tmp_path, OPTIM / "bad_book_momentum_sign.py")
    assert bad.returncode == 1
    assert "test_network_or_optimizer[momentum-book-P2-steps4-f64]" in bad.stdout
    assert "gradient ascent" in bad.stdout


# --- the survey: a file of networks and optimizers tells its API ------------------------------


@pytest.mark.parametrize("source, api", [
    ("class Adam:\n    pass\n\nclass SGD:\n    pass\n", "class"),
    ("class MultiLayerNetExtend:\n    pass\n", "class"),
    ("def sgd_momentum(w, dw, config=None):\n    pass\n", "functional"),
    ("class FullyConnectedNet:\n    pass\n", "functional"),
    ("class ThreeLayerConvNet:\n    pass\n", "functional"),
])
def test_a_file_of_networks_and_optimizers_only_is_detected(tmp_path: Path, source: str,
                                                            api: str) -> None:
    path = tmp_path / "units_only.py"
    path.write_text(source)
    sub = survey.load(path)
    assert sub.api == api
    assert set(registry.unit_names()) & sub.names


def test_a_file_with_only_a_two_layer_net_names_no_api(tmp_path: Path) -> None:
    """TwoLayerNet is a name of both curricula: it tells neither (give --api)."""
    path = tmp_path / "two.py"
    path.write_text("class TwoLayerNet:\n    pass\n")
    with pytest.raises(survey.LoadError, match="defines no layer"):
        survey.load(path)
    assert survey.load(path, "functional").api == "functional"
