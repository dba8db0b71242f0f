"""Students' whole networks (tests/students/nets/) against PyTorch twins built from the case's
spec and seeded parameters: loss, scores and every gradient; correct files pass, each
single-bug file is flagged at the right output (the layer where the gradient first goes
wrong) with its cause where one is known."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from layercheck.cases import net_cases as nc
from layercheck.impl import SimpleConvNet
from layercheck.reference import net_twins as nt

FOLDER = Path(__file__).parent / "students" / "nets"
# file: (api, the nets it defines, the normalizations they take, with dropout)
CORRECT = {"good_book_twolayernet.py": ("book", ("twolayernet",), ("",), False),
           "good_book_twolayernet_numerical.py": ("book", ("twolayernet",), ("",), False),
           "good_book_simpleconvnet.py": ("book", ("simpleconvnet",), ("",), False),
           "good_book_multilayernet.py": ("book", ("multilayernet",), ("",), False),
           "good_book_multilayernet_extend.py": ("book", ("multilayernet",), ("", "batchnorm"),
                                                 True),
           "good_cs231n_nets.py": ("cs231n", ("twolayernet", "fcnet"), ("",), False),
           "good_cs231n_fcnet_batchnorm.py": ("cs231n", ("fcnet",), ("", "batchnorm"), False),
           "good_cs231n_fcnet_layernorm.py": ("cs231n", ("fcnet",),
                                              ("", "batchnorm", "layernorm"), True),
           "good_cs231n_fcnet_dropout.py": ("cs231n", ("fcnet",), ("", "batchnorm"), True),
           "good_cs231n_fcnet_dropout_old.py": ("cs231n", ("fcnet",), ("", "batchnorm"), True),
           "good_cs231n_convnet3.py": ("cs231n", ("convnet3",), ("",), False)}
FC_DROP = nc.NetCase("fcnet", "cs231n", hidden=(6, 5), keep=0.6)
FC_BN = nc.NetCase("fcnet", "cs231n", hidden=(6, 5), norm="batchnorm")
FC_LN = nc.NetCase("fcnet", "cs231n", hidden=(6, 5), norm="layernorm")

SQUARE_BOOK = nc.NetCase("twolayernet", "book", D=4, hidden=(4,), C=4)
SQUARE_FC = nc.NetCase("fcnet", "cs231n", D=5, hidden=(5, 5), C=5)
FC_REG = nc.NetCase("fcnet", "cs231n", hidden=(6, 5), reg=0.1)
CONVNET = nc.NetCase("simpleconvnet", "book", N=2, hidden=(5,))
# file: (case, first failing output, words of the diagnosis)
WRONG = {
    "bad_book_twolayer_relu_passthrough.py": (nc.NetCase("twolayernet"), "grads[W1]",
                                              "grads['W1'] (Affine1)"),
    "bad_book_twolayer_no_batch_mean.py": (nc.NetCase("twolayernet"), "grads[W2]",
                                           "N = 4 times too large"),
    "bad_book_twolayer_db_not_summed.py": (nc.NetCase("twolayernet"), "grads[b2]",
                                           "has shape (4, 3), expected (3,)"),
    "bad_book_twolayer_grads_swapped.py": (SQUARE_BOOK, "grads[W2]",
                                           "grads['W2'] holds W1's gradient"),
    "bad_book_twolayer_numerical_one_sided.py": (nc.NetCase("twolayernet"), "grads[W2]",
                                                 "is a numerical gradient off by more than"),
    "bad_book_twolayer_loss_summed.py": (nc.NetCase("twolayernet"), "loss",
                                         "summed, not averaged"),
    "bad_book_convnet_pool_grad_first.py": (CONVNET, "grads[W1]", "grads['W1'] (Conv1)"),
    "bad_book_convnet_db_wrong_axis.py": (CONVNET, "grads[b1]",
                                          "grads['b1'] (Conv1) has shape (32,), expected (3,)"),
    "bad_book_convnet_dw_no_transpose.py": (CONVNET, "grads[W1]", "grads['W1'] (Conv1)"),
    "bad_cs231n_fcnet_reg_grad_missing.py": (FC_REG, "grads[W3]",
                                             "reg term is missing from grads['W3'] (loss "
                                             "includes it)"),
    "bad_cs231n_fcnet_reg_loss_full.py": (FC_REG, "loss", "0.5 * reg * sum(W**2)"),
    "bad_cs231n_fcnet_bn_no_gamma_grads.py": (
        FC_BN, "grads[beta2]", "grads['beta2'] is missing (batchnorm layer 2 gets no gradient)"),
    "bad_cs231n_fcnet_ln_no_gamma_grads.py": (
        FC_LN, "grads[beta2]", "(layernorm layer 2 gets no gradient); gamma2/beta2 get no "
                               "gradient"),
    "bad_cs231n_fcnet_bn_scores_train_mode.py": (
        FC_BN, "scores", "test mode (y is None) uses the running mean and variance"),
    "bad_cs231n_fcnet_dropout_no_rescale.py": (FC_DROP, "loss", "not divided by p"),
    "bad_book_multilayernet_dropout_backward_unmasked.py": (
        nc.NetCase("multilayernet", "book", hidden=(6, 5), keep=0.5), "grads[W2]",
        "grads['W2'] (Affine2) values outside the bound"),
    "bad_book_multilayernet_decay_grad_missing.py": (
        nc.NetCase("multilayernet", "book", hidden=(6, 5), reg=0.1), "grads[W3]",
        "reg term is missing from grads['W3'] (loss includes it)"),
    "bad_cs231n_convnet3_reg_skips_conv.py": (
        nc.NetCase("convnet3", "cs231n", N=2, hidden=(4,), reg=0.1, image=(2, 6, 6),
                   conv=(2, 3, 1, 1)), "loss", "leaves out W1 (Conv1)"),
    "bad_cs231n_fcnet_reg_loss_missing.py": (FC_REG, "loss", "missing from the loss"),
    "bad_cs231n_fcnet_grads_shifted.py": (SQUARE_FC, "grads[W3]",
                                          "grads['W3'] holds W2's gradient"),
    "bad_cs231n_fcnet_relu_on_scores.py": (FC_REG, "scores", "scores values outside"),
    "bad_cs231n_twolayer_reg_grad_doubled.py": (nc.NetCase("twolayernet", "cs231n", reg=0.1),
                                                "grads[W2]", "adds 2 * reg * W"),
    "bad_cs231n_relu_backward_passthrough.py": (nc.NetCase("fcnet", "cs231n", hidden=(4,),
                                                           dtype="f32"), "grads[W1]",
                                                "grads['W1'] (affine layer 1)"),
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"net_student_{name[:-3]}", FOLDER / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _verdicts(mod: ModuleType, case: nc.NetCase) -> list[nt.NetVerdict]:
    inputs = nc.make_inputs(case)
    return nt.judge(case, inputs, nc.run(mod, case, inputs))


def test_catalogue_lists_every_file_and_each_is_labelled() -> None:
    files = {p.name for p in FOLDER.glob("*.py")}
    assert files == set(CORRECT) | set(WRONG)
    for name in files:
        doc = ast.get_docstring(ast.parse((FOLDER / name).read_text()))
        assert doc and doc.startswith("Correct" if name in CORRECT else "Wrong"), name


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_student_net_passes_every_case_of_its_api(name: str) -> None:
    mod, (api, net, norms, dropout) = _load(name), CORRECT[name]
    cases = [c for c in nc.grid() if c.api == api and c.net in net and c.norm in norms
             and (dropout or c.keep == 1)]
    assert cases
    for case in cases:
        vs = _verdicts(mod, case)
        bad = [v.diagnosis for v in vs if not v.passed]
        assert not bad, (case.id, bad)
        assert len(vs) == 1 + (case.api == "cs231n") + len(case.param_names())


def test_a_net_without_batch_norm_fails_a_batchnorm_case_at_the_scores() -> None:
    v = nt.first_failure(_verdicts(_load("good_cs231n_nets.py"), FC_BN))
    assert v is not None and v.output == "scores"


def test_a_net_that_ignores_dropout_fails_at_the_loss_named() -> None:
    v = nt.first_failure(_verdicts(_load("good_cs231n_fcnet_batchnorm.py"), FC_DROP))
    assert v is not None and v.output == "loss"
    assert "computed without dropout" in v.diagnosis


def test_the_dropout_masks_are_those_cs231n_draws_after_seeding() -> None:
    """np.random.seed(seed) then rand(*x.shape) < p in each layer: the masks the twin uses."""
    np.random.seed(nc.DROPOUT_SEED)  # noqa: NPY002 (what CS231n students call)
    first = np.random.rand(FC_DROP.N, FC_DROP.hidden[0]) < FC_DROP.keep  # noqa: NPY002
    masks = nc.dropout_masks(FC_DROP)
    assert np.array_equal(masks[0], first) and masks[1].shape == (FC_DROP.N, 5)
    assert 0 < masks[0].mean() < 1


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_student_net_is_flagged_where_and_why(name: str) -> None:
    case, output, words = WRONG[name]
    v = nt.first_failure(_verdicts(_load(name), case))
    assert v is not None, "not flagged"
    assert (v.output, v.status) == (output, "fail"), v
    assert words in v.diagnosis, v.diagnosis


# --- the twin itself --------------------------------------------------------------------


def _numpy_forward(case: nc.NetCase, inputs: nc.NetInputs) -> tuple[float, np.ndarray]:
    a = inputs.x.astype(np.float64)
    P = {k: v.astype(np.float64) for k, v in inputs.params.items()}
    L = len(case.widths) - 1
    for i in range(1, L + 1):
        a = a @ P[f"W{i}"] + P[f"b{i}"]
        if i < L:
            a = np.maximum(a, 0)
    z = a - a.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    loss = -logp[np.arange(case.N), inputs.y].mean()
    loss += 0.5 * case.reg * sum((P[f"W{i}"] ** 2).sum() for i in range(1, L + 1))
    return float(loss), a


@pytest.mark.parametrize("case", [c for c in nc.grid() if not c.convolutional and not c.norm
                                  and c.keep == 1], ids=str)
def test_twin_loss_and_scores_match_a_plain_numpy_forward(case: nc.NetCase) -> None:
    inputs = nc.make_inputs(case)
    exp = nt.truth(case, inputs)
    loss, scores = _numpy_forward(case, inputs)
    np.testing.assert_allclose(exp.loss.value, loss, rtol=1e-13)
    if case.api == "cs231n":
        np.testing.assert_allclose(exp.scores.value, scores, rtol=1e-12, atol=1e-14)
    else:
        assert exp.scores is None


@pytest.mark.parametrize("case", [c for c in nc.grid() if c.net == "simpleconvnet"], ids=str)
def test_convnet_twin_agrees_with_impl_simpleconvnet(case: nc.NetCase) -> None:
    inputs = nc.make_inputs(case)
    F, k, p, s = case.conv
    net = SimpleConvNet(input_dim=case.image, hidden_size=case.hidden[0], output_size=case.C,
                        conv_param={"filter_num": F, "filter_size": k, "pad": p, "stride": s})
    for name, v in inputs.params.items():
        net.params[name][...] = v
    exp = nt.truth(case, inputs)
    assert abs(net.loss(inputs.x, inputs.y) - exp.loss.value) <= exp.loss.bound
    grads = net.gradient(inputs.x, inputs.y)
    for name, e in exp.grads.items():
        assert np.all(np.abs(grads[name] - e.value) <= e.bound), name


@pytest.mark.parametrize("case", [c for c in nc.grid() if c.net == "convnet3"], ids=str)
def test_three_layer_convnet_twin_is_impls_convnet_with_the_l2_term(case: nc.NetCase) -> None:
    """CS231n's ThreeLayerConvNet is impl's SimpleConvNet with a size-keeping convolution;
    the L2 term (over W1 too) adds 0.5 * reg * sum(W**2) and reg * W."""
    inputs = nc.make_inputs(case)
    F, k, p, s = case.conv
    net = SimpleConvNet(input_dim=case.image, hidden_size=case.hidden[0], output_size=case.C,
                        conv_param={"filter_num": F, "filter_size": k, "pad": p, "stride": s})
    P = {k: v.astype(np.float64) for k, v in inputs.params.items()}
    for name, v in P.items():
        net.params[name][...] = v
    x = inputs.x.astype(np.float64)
    exp = nt.truth(case, inputs)
    reg = 0.5 * case.reg * sum((W ** 2).sum() for n, W in P.items() if n.startswith("W"))
    assert abs(net.loss(x, inputs.y) + reg - exp.loss.value) <= exp.loss.bound
    assert np.all(np.abs(net.predict(x) - exp.scores.value) <= exp.scores.bound)
    grads = net.gradient(x, inputs.y)
    for name, e in exp.grads.items():
        want = grads[name] + (case.reg * P[name] if name.startswith("W") else 0)
        assert np.all(np.abs(want - e.value) <= e.bound), name


def test_twin_gradient_matches_central_differences() -> None:
    case = nc.NetCase("fcnet", "cs231n", N=3, hidden=(4, 3), reg=0.2)
    inputs = nc.make_inputs(case)
    exp = nt.truth(case, inputs)
    h = 1e-6
    for k, p in inputs.params.items():
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = _numpy_forward(case, inputs)[0]
            p[idx] = old - h
            down = _numpy_forward(case, inputs)[0]
            p[idx] = old
            num[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(exp.grads[k].value, num, rtol=1e-5, atol=1e-8)


def _layernorm_forward(case: nc.NetCase, inputs: nc.NetInputs) -> float:
    """affine - layernorm - relu ... affine, softmax loss, in float64 NumPy."""
    a = inputs.x.astype(np.float64)
    P = {k: v.astype(np.float64) for k, v in inputs.params.items()}
    L = len(case.widths) - 1
    for i in range(1, L + 1):
        a = a @ P[f"W{i}"] + P[f"b{i}"]
        if i < L:
            mu, var = a.mean(1, keepdims=True), a.var(1, keepdims=True)
            a = np.maximum(P[f"gamma{i}"] * (a - mu) / np.sqrt(var + 1e-5) + P[f"beta{i}"], 0)
    z = a - a.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(case.N), inputs.y].mean())


def test_layernorm_twin_matches_numpy_loss_and_central_differences() -> None:
    inputs = nc.make_inputs(FC_LN)
    exp = nt.truth(FC_LN, inputs)
    assert abs(float(exp.loss.value) - _layernorm_forward(FC_LN, inputs)) <= 1e-12
    assert set(exp.grads) >= {"gamma1", "beta1", "gamma2", "beta2"}
    h = 1e-6
    for k, p in inputs.params.items():
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = _layernorm_forward(FC_LN, inputs)
            p[idx] = old - h
            down = _layernorm_forward(FC_LN, inputs)
            p[idx] = old
            num[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(exp.grads[k].value, num, rtol=1e-5, atol=1e-8)


def test_a_batchnorm_net_fails_a_layernorm_case() -> None:
    v = nt.first_failure(_verdicts(_load("good_cs231n_fcnet_batchnorm.py"), FC_LN))
    assert v is not None and v.status in ("fail", "error")


def test_float32_arithmetic_fails_a_float64_net_case() -> None:
    mod = _load("good_cs231n_nets.py")
    case = nc.NetCase("fcnet", "cs231n", hidden=(6, 5), reg=0.1)
    inputs = nc.make_inputs(case)
    c32 = dataclasses.replace(case, dtype="f32")
    in32 = nc.NetInputs(inputs.x.astype(np.float32), inputs.y,
                        {k: v.astype(np.float32) for k, v in inputs.params.items()})
    run = nc.run(mod, c32, in32)
    run.scores = run.scores.astype(np.float64)
    run.grads = {k: v.astype(np.float64) for k, v in run.grads.items()}
    v = nt.first_failure(nt.judge(case, inputs, run))
    assert v is not None and v.output == "scores"


def test_net_case_ids_and_rejections() -> None:
    assert nc.NetCase("fcnet", "cs231n", hidden=(6, 5), reg=0.1, dtype="f32").id == \
        "fcnet-cs231n-N4-D5-H6x5-C3-reg0.1-f32"
    assert CONVNET.id == "simpleconvnet-book-N2-in1x6x6-F3k3p0s1-H5-C3-f64"
    assert nc.make_inputs(CONVNET).params["W2"].shape == (3 * 2 * 2, 5)
    for bad in (dict(net="fcnet", api="book"), dict(net="twolayernet", hidden=(3, 3)),
                dict(net="twolayernet", reg=0.1), dict(net="twolayernet", dtype="f32")):
        with pytest.raises(ValueError):
            nc.NetCase(**bad)


def test_numerical_truth_is_the_central_quotient_within_its_bound() -> None:
    """The twin's central quotient at h = 1e-4 is within ~h**2 of the analytic gradient
    (the truncation it computes), and its own bound is far tighter than that distance."""
    case = nc.NetCase("twolayernet")
    exp = nt.truth(case, nc.make_inputs(case))
    assert set(exp.num_grads) == set(exp.grads)
    for k, num in exp.num_grads.items():
        gap = np.abs(num.value - exp.grads[k].value)
        assert gap.max() <= 1e-6, k
        assert num.bound.max() <= 1e-9, k


def test_nets_with_dropout_or_cs231n_have_no_numerical_alternative() -> None:
    for case in (FC_REG, nc.NetCase("multilayernet", "book", hidden=(6, 5), keep=0.5)):
        assert nt.truth(case, nc.make_inputs(case)).num_grads == {}


# The cause code each single-bug file is grouped under (reference/diagnosis.py)
CODES = {
    "bad_book_twolayer_no_batch_mean.py": "grad_sum_not_mean",
    "bad_book_twolayer_grads_swapped.py": "grad_other_param",
    "bad_book_twolayer_loss_summed.py": "loss_sum_not_mean",
    "bad_book_twolayer_numerical_one_sided.py": "grad_numerical_off",
    "bad_cs231n_fcnet_reg_grad_missing.py": "reg_missing_in_grad",
    "bad_cs231n_fcnet_reg_loss_full.py": "reg_double_in_loss",
    "bad_cs231n_fcnet_bn_no_gamma_grads.py": "no_gradient",
    "bad_cs231n_fcnet_ln_no_gamma_grads.py": "no_gradient",
    "bad_cs231n_fcnet_bn_scores_train_mode.py": "scores_train_mode",
    "bad_cs231n_fcnet_dropout_no_rescale.py": "dropout_not_inverted",
    "bad_book_multilayernet_decay_grad_missing.py": "reg_missing_in_grad",
    "bad_cs231n_convnet3_reg_skips_conv.py": "reg_skips_param",
    "bad_cs231n_fcnet_reg_loss_missing.py": "reg_missing_in_loss",
    "bad_cs231n_fcnet_grads_shifted.py": "grad_other_param",
    "bad_cs231n_twolayer_reg_grad_doubled.py": "reg_double",
}


@pytest.mark.parametrize("name", sorted(CODES))
def test_wrong_student_net_carries_its_cause_as_a_code(name: str) -> None:
    case = WRONG[name][0]
    v = nt.first_failure(_verdicts(_load(name), case))
    assert v is not None
    assert CODES[name] in [d.code for d in v.diagnoses], v.diagnoses


def test_a_bug_without_a_known_cause_carries_facts_only() -> None:
    case, *_ = WRONG["bad_book_twolayer_relu_passthrough.py"]
    v = nt.first_failure(_verdicts(_load("bad_book_twolayer_relu_passthrough.py"), case))
    assert v is not None and [d.code for d in v.diagnoses] == ["net_output"]
    assert not any(d.is_cause for d in v.diagnoses)
