"""Batch-normalized SimpleConvNet against its PyTorch twin: training mode (batch
statistics), test mode (running statistics) and the running statistics themselves, step
by step within the rounding bound; mutants of the usual batch-norm mistakes are caught."""

from __future__ import annotations

import numpy as np
import pytest
from layercheck.impl.convnet_bn import SimpleConvNetBN
from layercheck.impl.norm import SpatialBatchNormalization
from layercheck.reference.convnet import agreement, load_state, net_truth, running_stats, twin
from layercheck.reference.training import TrainingRun, backprop, digits, train_side_by_side

CONV = {"filter_num": 6, "filter_size": 3, "pad": 1, "stride": 1}
STEPS = 8


def small(spatial: bool = True, dtype=np.float64) -> SimpleConvNetBN:
    return SimpleConvNetBN((1, 8, 8), CONV, 20, 10, rng=0, spatial=spatial, dtype=dtype)


def batch(n: int = 16, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    d = digits()
    return d.x_train[:n].astype(dtype), d.t_train[:n]


@pytest.fixture(scope="module", params=[True, False], ids=["spatial", "flattened"])
def run(request) -> TrainingRun:
    return train_side_by_side(small(request.param), digits(), steps=STEPS, batch_size=16,
                              lr=0.1, seed=0, eval_every=2)


def test_layers_and_parameter_names() -> None:
    net = small()
    assert list(net.layers) == ["Conv1", "BatchNorm1", "Relu1", "Pool1", "Affine1",
                                "BatchNorm2", "Relu2", "Affine2"]
    assert net.params["gamma1"].shape == (6,), "spatial batch norm: one gamma per channel"
    assert small(spatial=False).params["gamma1"].shape == (6 * 8 * 8,), \
        "flattened batch norm: one gamma per channel and pixel"
    assert (net.params["gamma2"] == 1).all() and (net.params["beta2"] == 0).all()


def test_test_mode_uses_running_statistics_for_a_single_sample() -> None:
    net = small()
    x, t = batch()
    net.gradient(x, t)
    assert net.predict(x[:1]).shape == (1, 10), "test mode should accept a batch of one"
    with pytest.raises(ValueError, match="more than one value"):
        net.predict(np.zeros((1, 1, 1, 1)).repeat(8, 2).repeat(8, 3), train_flg=True)


def _check(net: SimpleConvNetBN, model, names, x, t, dtype: str, train: bool,
           stats: bool = True) -> dict[str, float]:
    if train:
        load_state(model, net)
        grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
        loss = net.last_layer.loss
    else:
        loss = net.loss(x, t, train_flg=False)
        grads = backprop(net)
        model.eval()
        load_state(model, net)
    truth = net_truth(model, names, x, t, dtype)
    return agreement(truth, loss, grads, running_stats(net) if stats else None).err_over_bound


@pytest.mark.parametrize("spatial", [True, False], ids=["spatial", "flattened"])
@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_train_and_test_mode_within_bound_of_twin(spatial: bool, dtype: str) -> None:
    dt = np.float64 if dtype == "f64" else np.float32
    net = small(spatial, dt)
    x, t = batch(16, dt)
    model, names = twin(net)
    eob = _check(net, model, names, x, t, dtype, train=True)
    assert {"BatchNorm1.running_mean", "BatchNorm2.running_var"} <= set(eob)
    assert max(eob.values()) <= 1, f"training mode, err/bound above 1: {eob}"
    eob = _check(net, model, names, x, t, dtype, train=False)
    assert max(eob.values()) <= 1, f"test mode, err/bound above 1: {eob}"


class _RoundsInFloat32(SpatialBatchNormalization):
    """Mutant: normalizes float32-rounded input inside a float64 net."""

    def forward(self, x, train_flg=True):
        return super().forward(x.astype(np.float32).astype(np.float64), train_flg)


class _EpsOutsideSqrt(SpatialBatchNormalization):
    """Mutant: std = sqrt(var) + eps instead of sqrt(var + eps)."""

    def forward(self, x, train_flg=True):
        out = super().forward(x, train_flg)
        if not train_flg:
            return out
        wrong = np.sqrt(self.std ** 2 - self.eps) + self.eps
        self.xn = self.xn * (self.std / wrong)
        self.std = wrong
        return self._affine(self.xn, x.shape[1])


class _UnbiasedRunningVar(SpatialBatchNormalization):
    """Mutant: the running variance takes the unbiased batch variance (PyTorch's)."""

    def forward(self, x, train_flg=True):
        before = None if self.running_var is None else self.running_var.copy()
        out = super().forward(x, train_flg)
        if train_flg:
            var = x.var(axis=(0, 2, 3), ddof=1)
            base = np.zeros_like(var) if before is None else before
            self.running_var = self.momentum * base + (1 - self.momentum) * var
        return out


class _FrozenRunningStats(SpatialBatchNormalization):
    """Mutant: the running statistics are never updated."""

    def forward(self, x, train_flg=True):
        keep = (self.running_mean, self.running_var)
        out = super().forward(x, train_flg)
        if keep[0] is not None:
            self.running_mean, self.running_var = keep
        return out


@pytest.mark.parametrize("mutant, what", [
    (_RoundsInFloat32, "float32 rounding"),
    (_EpsOutsideSqrt, "eps outside the square root"),
    (_UnbiasedRunningVar, "unbiased running variance"),
    (_FrozenRunningStats, "running statistics not updated"),
])
def test_batch_norm_mutants_are_caught(mutant, what: str) -> None:
    net = small()
    x, t = batch()
    model, names = twin(net)
    good = net.layers["BatchNorm1"]
    # one good step first, so the running statistics are not all zero
    _check(net, model, names, x[:8], t[:8], "f64", train=True)
    bad = mutant(good.gamma, good.beta, good.momentum, good.running_mean.copy(),
                 good.running_var.copy())
    net.layers["BatchNorm1"] = bad
    eob = _check(net, model, names, x, t, "f64", train=True)
    assert max(eob.values()) > 10, f"{what} passed: {eob}"


def test_every_training_step_within_bound(run: TrainingRun) -> None:
    assert len(run.step_err_over_bound) == STEPS
    assert max(run.step_err_over_bound) <= 1


def test_loss_curves_and_running_statistics_agree(run: TrainingRun) -> None:
    assert max(run.curve_err_over_bound) <= 1
    assert run.max_rel_diff < 1e-10
    assert run.stats_rel_diff < 1e-10, "running statistics drifted from the twin's"


def test_test_mode_within_bound_during_training(run: TrainingRun) -> None:
    assert run.eval_steps == [0, 2, 4, 6]
    assert max(run.eval_err_over_bound) <= 1
    assert run.twin_test_accuracy == run.test_accuracy


@pytest.mark.parametrize("spatial, eps1", [(True, 1e-5), (False, 1e-6)])
def test_twin_keeps_each_layers_eps(spatial: bool, eps1: float) -> None:
    """The notes' layer uses 10e-7, CS231n's spatial one 1e-5; the twin must not use
    PyTorch's default for both."""
    model, _ = twin(small(spatial))
    eps = [model[i].eps for i in sorted(model.layer_names)]
    assert eps == [eps1, 1e-6]


def test_backprop_matches_central_differences_of_training_loss() -> None:
    """Independent of PyTorch: the notes' numerical gradient of the training-mode loss."""
    net = SimpleConvNetBN((1, 4, 4), {"filter_num": 2, "filter_size": 3, "pad": 1,
                                      "stride": 1}, 3, 3, rng=0)
    x, t = batch(6)
    x = x[:, :, 2:6, 2:6]
    t = t % 3
    net.gradient(x, t)  # running statistics exist from here on
    before = running_stats(net)
    num = net.numerical_gradient(x, t)
    after = running_stats(net)
    assert all(np.array_equal(after[k], v) for k, v in before.items()), \
        "numerical_gradient must restore the running statistics"
    grads = net.gradient(x, t)
    for k in net.params:
        err = np.max(np.abs(num[k] - grads[k]))
        assert err < 1e-6 * max(1.0, float(np.max(np.abs(grads[k])))), \
            f"backprop {k} differs from central differences by {err:.3g}"
