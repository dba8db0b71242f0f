"""AlexNet-style net: structure, dropout masks from a mask source, and its PyTorch twin
(same weights, the same injected masks) step by step within the rounding bound."""

from __future__ import annotations

import numpy as np
import pytest
from layercheck.impl.alexnet import AlexNet
from layercheck.impl.lrn import LRN
from layercheck.reference.convnet import agreement, load_state, net_truth, twin
from layercheck.reference.training import TrainingRun, digits32, train_side_by_side

TINY = dict(conv_channels=(4, 6, 8, 8, 6), hidden_sizes=(16, 16))
STEPS = 6


def tiny(dtype=np.float64, mask_rng=1) -> AlexNet:
    return AlexNet(**TINY, rng=0, mask_rng=mask_rng, dtype=dtype)


def batch(n: int = 8, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    d = digits32()
    return d.x_train[:n].astype(dtype), d.t_train[:n]


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    d = digits32()
    return train_side_by_side(tiny(), d, steps=STEPS, batch_size=16, lr=0.1, seed=0,
                              eval_every=3)


def test_layer_order_is_alexnet_style() -> None:
    names = list(tiny().layers)
    assert names == ["Conv1", "Relu1", "LRN1", "Pool1", "Conv2", "Relu2", "LRN2", "Pool2",
                     "Conv3", "Relu3", "Conv4", "Relu4", "Conv5", "Relu5", "Pool3",
                     "Affine1", "Relu6", "Dropout1", "Affine2", "Relu7", "Dropout2",
                     "Affine3"], "layer order differs from conv-relu-LRN-pool x2, ..."


def test_maps_shrink_32_15_7_3_and_scores_have_ten_classes() -> None:
    net = tiny()
    assert net.params["W6"].shape == (6 * 3 * 3, 16), "flattened size after Pool3 is not 6x3x3"
    x, _ = batch(4)
    assert net.predict(x).shape == (4, 10)


def test_bad_arguments_are_refused_with_a_message() -> None:
    with pytest.raises(ValueError, match="5 conv_channels"):
        AlexNet(conv_channels=(4, 4))
    with pytest.raises(ValueError, match="unknown keys"):
        AlexNet(lrn={"n": 5})
    with pytest.raises(ValueError, match="Pool1 height"):
        AlexNet(input_dim=(3, 2, 2), **TINY)
    with pytest.raises(ValueError, match="Pool2 height"):
        AlexNet(input_dim=(3, 4, 4), **TINY)


def test_same_mask_source_draws_same_masks_and_test_mode_is_deterministic() -> None:
    x, t = batch()
    a, b = tiny(mask_rng=7), tiny(mask_rng=7)
    a.gradient(x, t)
    b.gradient(x, t)
    assert (a.layers["Dropout1"].mask == b.layers["Dropout1"].mask).all()
    c = tiny(mask_rng=8)
    c.gradient(x, t)
    assert (a.layers["Dropout1"].mask != c.layers["Dropout1"].mask).any()
    assert (a.predict(x) == a.predict(x)).all(), "test mode must not draw masks"


@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_loss_and_gradients_within_bound_of_twin(dtype: str) -> None:
    dt = np.float64 if dtype == "f64" else np.float32
    net = tiny(dt)
    x, t = batch(8, dt)
    model, names = twin(net)
    grads = net.gradient(x, t)
    load_state(model, net)
    ag = agreement(net_truth(model, names, x, t, dtype), net.last_layer.loss, grads)
    assert ag.worst <= 1, f"err/bound above 1: {ag.err_over_bound}"


def test_twin_with_other_masks_disagrees() -> None:
    """The masks matter: the twin fed another step's masks is far outside the bound."""
    net, other = tiny(mask_rng=1), tiny(mask_rng=2)
    x, t = batch()
    model, names = twin(net)
    grads = net.gradient(x, t)
    other.gradient(x, t)
    load_state(model, other)
    ag = agreement(net_truth(model, names, x, t, "f64"), net.last_layer.loss, grads)
    assert ag.worst > 1e3, "a twin with other dropout masks should not agree"


class _LRNRoundsInFloat32(LRN):
    """Mutant: computes LRN on float32-rounded input inside a float64 net."""

    def forward(self, x):
        return super().forward(x.astype(np.float32).astype(np.float64))


def test_float32_rounding_inside_lrn_is_caught() -> None:
    net = tiny()
    x, t = batch()
    model, names = twin(net)
    lrn = net.layers["LRN1"]
    net.layers["LRN1"] = _LRNRoundsInFloat32(lrn.size, lrn.alpha, lrn.beta, lrn.k)
    grads = net.gradient(x, t)
    load_state(model, net)
    ag = agreement(net_truth(model, names, x, t, "f64"), net.last_layer.loss, grads)
    assert ag.worst > 10, f"float32 rounding in LRN1 passed: {ag.err_over_bound}"


def test_every_training_step_within_bound_of_float64_truth(run: TrainingRun) -> None:
    assert len(run.step_err_over_bound) == STEPS
    assert max(run.step_err_over_bound) <= 1


def test_loss_curves_agree_step_by_step(run: TrainingRun) -> None:
    assert len(run.loss_np) == len(run.loss_twin) == STEPS
    assert max(run.curve_err_over_bound) <= 1
    assert run.max_rel_diff < 1e-10


def test_test_mode_within_bound_during_training(run: TrainingRun) -> None:
    assert run.eval_steps == [0, 3]
    assert max(run.eval_err_over_bound) <= 1
    assert run.twin_test_accuracy == run.test_accuracy


def test_report_section_shows_agreement_accuracy_and_filters(tmp_path, monkeypatch) -> None:
    from layercheck.reports import training as section

    monkeypatch.setattr(section, "ALEXNET_NET", {**TINY, "rng": 0, "mask_rng": 1})
    monkeypatch.setattr(section, "ALEXNET_STEPS", 2)
    monkeypatch.setattr(section, "BN_STEPS", 2)
    monkeypatch.setattr(section, "ALEXNET_SGD", {**section.ALEXNET_SGD, "eval_every": 1})
    monkeypatch.setattr(section, "BN_NET", {**section.BN_NET, "hidden_size": 8,
                                            "conv_param": {"filter_num": 3, "filter_size": 3,
                                                           "pad": 1, "stride": 1}})
    md, page = section.more_nets_section(tmp_path)
    for name in ("alexnet_loss.png", "alexnet_filters.png", "bn_loss.png", "bn_filters.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", f"{name} is not a PNG"
        assert f"({name})" in md
    assert md.count("held-out accuracy of the twin") == 2
    assert "running statistics NumPy vs twin run" in md, "the BN run's statistics row is missing"
    assert page.count("<img") == 4
