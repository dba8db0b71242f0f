"""impl/'s optimizers against the optimizer oracle over several steps (both APIs, float32 and
float64), the oracle's documented departures from torch.optim, and the bounds' teeth."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np
import pytest
import torch
from layercheck.cases import optim_cases as oc
from layercheck.impl import optim
from layercheck.reference import optim_judge as oj
from layercheck.reference import optim_oracle as oo

GRID = [*oc.grid(), oc.OptimCase("adam", "book", 3, 5), oc.OptimCase("adam", "cs231n", 3, 5)]


def _judge(mod: types.ModuleType, case: oc.OptimCase) -> list[oj.StepVerdict]:
    inputs = oc.make_inputs(case)
    return oj.judge(case, inputs, oc.run(mod, case, inputs))


@pytest.mark.parametrize("case", GRID, ids=str)
def test_impl_optimizer_matches_oracle_every_step(case: oc.OptimCase) -> None:
    verdicts = _judge(optim, case)
    bad = [f"{v.where}: {v.diagnosis}" for v in verdicts if not v.passed]
    assert not bad, bad[:3]
    per_step = case.P * (1 + (len(oc.STATE_KEYS[case.rule]) if case.api == "cs231n" else 0))
    assert len(verdicts) == case.steps * per_step


def _as_f32_arithmetic(case: oc.OptimCase) -> tuple[oc.OptimInputs, oc.OptimRun]:
    """The float64 case's inputs, run through impl/ in float32, read back as float64."""
    inputs = oc.make_inputs(case)
    c32 = dataclasses.replace(case, dtype="f32")
    f32 = oc.OptimInputs({k: v.astype(np.float32) for k, v in inputs.params.items()},
                         [{k: v.astype(np.float32) for k, v in g.items()} for g in inputs.grads])
    run = oc.run(optim, c32, f32)
    run.params = [{k: v.astype(np.float64) for k, v in s.items()} for s in run.params]
    run.state = [{k: {n: x.astype(np.float64) if isinstance(x, np.ndarray) else x
                      for n, x in d.items()} for k, d in s.items()} for s in run.state]
    return inputs, run


@pytest.mark.parametrize("case", [c for c in oc.grid(dtypes=("f64",), kinds=("normal",))
                                  if not c.hyper], ids=str)
def test_float32_arithmetic_fails_a_float64_case_at_step_1(case: oc.OptimCase) -> None:
    inputs, run = _as_f32_arithmetic(case)
    first = oj.first_failure(oj.judge(case, inputs, run))
    assert first is not None and first.step == 1 and first.status == "fail"


def test_a_one_ulp_change_of_one_element_is_within_the_bound_but_1e_9_is_not() -> None:
    case = oc.OptimCase("rmsprop", "book", 2, 3)
    inputs = oc.make_inputs(case)
    truth = oo.truth(case, inputs)
    run = oc.run(optim, case, inputs)
    w = run.params[0]["W1"]
    w[0, 0] = np.nextafter(w[0, 0], np.inf)
    assert oj.first_failure(oj.judge(case, inputs, run, truth)) is None
    w[0, 0] *= 1 + 1e-9
    first = oj.first_failure(oj.judge(case, inputs, run, truth))
    assert (first.step, first.param, first.worst_index) == (1, "W1", (0, 0))


# --- hand-computed first steps (independent of the oracle's code) ---------------------


def _step1(case: oc.OptimCase) -> tuple[dict, dict, dict]:
    inputs = oc.make_inputs(case)
    return inputs.params, inputs.grads[0], oo.truth(case, inputs)[0].params


def test_cs231n_adam_first_step_is_lr_times_g_over_abs_g_plus_eps() -> None:
    p, g, t = _step1(oc.OptimCase("adam", "cs231n", 2, 1))
    for k in p:
        np.testing.assert_allclose(t[k].value, p[k] - 1e-3 * g[k] / (np.abs(g[k]) + 1e-8),
                                   rtol=1e-13)


def test_book_adam_first_step_has_eps_divided_by_sqrt_of_1_minus_beta2() -> None:
    p, g, t = _step1(oc.OptimCase("adam", "book", 2, 1, kind="small"))
    for k in p:
        want = p[k] - 1e-3 * g[k] / (np.abs(g[k]) + 1e-7 / math.sqrt(1 - 0.999))
        np.testing.assert_allclose(t[k].value, want, rtol=1e-13)


def test_book_nesterov_first_step_moves_by_1_plus_m_plus_m_squared() -> None:
    p, g, t = _step1(oc.OptimCase("nesterov", "book", 2, 1))
    for k in p:
        np.testing.assert_allclose(t[k].value, p[k] - (1 + 0.9 + 0.81) * 0.01 * g[k],
                                   rtol=1e-14)


def test_momentum_second_step_by_hand() -> None:
    case = oc.OptimCase("momentum", "cs231n", 1, 2, hyper=(("lr", 0.1), ("momentum", 0.5)))
    inputs = oc.make_inputs(case)
    st = oo.truth(case, inputs)
    g1, g2, p0 = inputs.grads[0]["W1"], inputs.grads[1]["W1"], inputs.params["W1"]
    v2 = 0.5 * (-0.1 * g1) - 0.1 * g2
    np.testing.assert_allclose(st[1].params["W1"].value, p0 - 0.1 * g1 + v2, rtol=1e-14)
    np.testing.assert_allclose(st[1].state["W1"]["velocity"].value, v2, rtol=1e-14)


# --- the documented departures from torch.optim ----------------------------------------


def _torch_run(case: oc.OptimCase, make, eps_at=None) -> list[dict[str, np.ndarray]]:
    inputs = oc.make_inputs(case)
    ts = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
          for k, v in inputs.params.items()}
    opt = make(list(ts.values()))
    out = []
    for t, grads in enumerate(inputs.grads, start=1):
        if eps_at is not None:
            opt.param_groups[0]["eps"] = eps_at(t)
        for k, x in ts.items():
            x.grad = torch.tensor(grads[k], dtype=torch.float64)
        opt.step()
        out.append({k: x.detach().numpy().copy() for k, x in ts.items()})
    return out


def _within(values: list[dict], truth: list[oo.StepTruth]) -> bool:
    return all(np.all(np.abs(v[k] - st.params[k].value) <= st.params[k].bound)
               for v, st in zip(values, truth, strict=True) for k in v)


def test_book_adam_is_torch_adam_with_eps_over_sqrt_of_bias_correction() -> None:
    case = oc.OptimCase("adam", "book", 3, 5, kind="small")
    truth = oo.truth(case, oc.make_inputs(case))
    shifted = _torch_run(case, lambda ps: torch.optim.Adam(ps, lr=1e-3),
                         eps_at=lambda t: 1e-7 / math.sqrt(1 - 0.999**t))
    assert _within(shifted, truth)
    plain = _torch_run(case, lambda ps: torch.optim.Adam(ps, lr=1e-3, eps=1e-7))
    assert not _within(plain[:1], truth[:1])


def test_book_nesterov_differs_from_torch_nesterov_which_is_the_old_v_form() -> None:
    case = oc.OptimCase("nesterov", "book", 2, 4)
    inputs = oc.make_inputs(case)
    ref = _torch_run(case, lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9,
                                                       nesterov=True))
    assert not _within(ref[:1], oo.truth(case, inputs)[:1])
    assert _within(ref, oo.formula_trajectory(case, inputs, "old_v"))


def test_torch_adagrad_default_eps_differs_from_the_notes_on_small_gradients() -> None:
    case = oc.OptimCase("adagrad", "book", 2, 3, kind="small")
    truth = oo.truth(case, oc.make_inputs(case))
    assert not _within(_torch_run(case, lambda ps: torch.optim.Adagrad(ps, lr=0.01))[:1],
                       truth[:1])


@pytest.mark.parametrize("case", [c for c in oc.grid(steps=5) if oo.torch_optimizer(
    c, [torch.zeros(1, requires_grad=True)]) is not None], ids=str)
def test_formula_agrees_with_torch_optim_where_the_curriculum_coincides(
        case: oc.OptimCase) -> None:
    inputs = oc.make_inputs(case)
    ref = oo.torch_values(case, inputs)
    formula = oo.formula_trajectory(case, inputs)
    # Both are float64 computations, each within (bound of a float64 case) / SAFETY of the
    # exact value, so they differ by at most that bound (SAFETY = 2).
    c64 = dataclasses.replace(case, dtype="f64")
    bounds = oo.formula_trajectory(c64, inputs)
    for r, st, b in zip(ref, formula, bounds, strict=True):
        for k, exp in st.params.items():
            assert np.all(np.abs(r["params"][k] - exp.value) <= b.params[k].bound)


# --- the case record and the adapters --------------------------------------------------


def test_case_id_is_readable_and_seeds_the_same_arrays() -> None:
    c = oc.OptimCase("adam", "book", 3, 5)
    assert c.id == "adam-book-P3-steps5-f64"
    c2 = oc.OptimCase("momentum", "cs231n", 2, 4, "f32", "small",
                      (("lr", 0.1), ("momentum", 0.5)))
    assert c2.id == "momentum-cs231n-P2-steps4-lr0.1-momentum0.5-f32-small"
    a, b = oc.make_inputs(c), oc.make_inputs(oc.OptimCase("adam", "book", 3, 5))
    assert list(a.params) == ["W1", "b1", "W2"] and len(a.grads) == 5
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert oc.make_inputs(c2).params["W1"].dtype == np.float32


@pytest.mark.parametrize("bad", [dict(rule="nesterov", api="cs231n"), dict(rule="adamw"),
                                 dict(rule="adam", hyper=(("eps", 1e-8),)),
                                 dict(rule="sgd", hyper=(("momentum", 0.5),)),
                                 dict(rule="sgd", steps=0)])
def test_case_rejects_what_the_api_cannot_express(bad: dict) -> None:
    with pytest.raises(ValueError):
        oc.OptimCase(**bad)


def test_cs231n_adapter_hands_back_the_returned_config_and_weights() -> None:
    seen = []

    def sgd(w, dw, config=None):
        seen.append((id(w), id(config), dict(config)))
        return w - 0.01 * dw, {**config, "n": config.get("n", 0) + 1}

    case = oc.OptimCase("sgd", "cs231n", 1, 3)
    run = oc.run(types.SimpleNamespace(sgd=sgd), case)
    assert [c["n"] for _, _, c in seen[1:]] == [1, 2] and seen[0][2] == {}
    assert not oj.first_failure(oj.judge(case, oc.make_inputs(case), run))


def test_book_adapter_records_rebinding_and_judges_the_held_arrays() -> None:
    class SGD:
        def update(self, params, grads):
            params["W1"] = params["W1"] - 0.01 * grads["W1"]

    case = oc.OptimCase("sgd", "book", 1, 2)
    run = oc.run(types.SimpleNamespace(SGD=SGD), case)
    assert run.rebound == [(1, "W1"), (2, "W1")]
    first = oj.first_failure(oj.judge(case, oc.make_inputs(case), run))
    assert first.step == 1 and "in place" in first.diagnosis


def test_an_exception_is_an_error_verdict_at_its_step() -> None:
    def rmsprop(w, dw, config=None):
        config = {} if config is None else config
        if "cache" in config:
            raise KeyError("cache")
        config["cache"] = 0.01 * dw * dw
        return w - 1e-2 * dw / (np.sqrt(config["cache"]) + 1e-8), config

    case = oc.OptimCase("rmsprop", "cs231n", 2, 3)
    verdicts = oj.judge(case, oc.make_inputs(case), oc.run(types.SimpleNamespace(
        rmsprop=rmsprop), case))
    assert verdicts[-1].status == "error" and verdicts[-1].step == 2
    assert "KeyError" in verdicts[-1].diagnosis
    assert all(v.passed for v in verdicts[:-1])


def test_verdicts_convert_to_project_results() -> None:
    case = oc.OptimCase("adam", "cs231n", 1, 1)
    v = _judge(optim, case)
    rows = [x.result(case).row() for x in v]
    assert [r["output"] for r in rows] == ["W1@1", "W1.m@1", "W1.v@1", "W1.t@1"]
    assert {r["layer"] for r in rows} == {"adam"} and {r["phase"] for r in rows} == {"update"}
