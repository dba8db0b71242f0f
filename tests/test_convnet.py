"""SimpleConvNet and LeNet: twin agreement within the network bound, gradient check, I/O."""

from __future__ import annotations

import numpy as np
import pytest
from layercheck.impl.convnet import LeNet, SimpleConvNet
from layercheck.impl.gradient import numerical_gradient
from layercheck.reference.convnet import agreement, net_truth, twin

SMALL_CONV = {"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1}
LENET_CONVS = ({"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1},
               {"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 1})
DTYPES = {"f64": np.float64, "f32": np.float32}


def _batch(shape: tuple[int, ...], n: int, classes: int, dtype, seed: int = 1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(dtype), rng.integers(0, classes, n)


def _nets(dtype) -> dict[str, tuple[object, tuple[int, ...], int]]:
    """name -> (net, input shape, classes)."""
    return {
        "simple-default": (SimpleConvNet(rng=0, dtype=dtype), (1, 28, 28), 10),
        "simple-small": (SimpleConvNet((2, 10, 9), SMALL_CONV, 20, 5, 0.3, rng=2, dtype=dtype),
                         (2, 10, 9), 5),
        "lenet-small": (LeNet((1, 12, 12), LENET_CONVS, (10, 8), 4, rng=3, dtype=dtype),
                        (1, 12, 12), 4),
    }


def _agree(name: str, d: str):
    net, shape, classes = _nets(DTYPES[d])[name]
    x, t = _batch(shape, 6, classes, DTYPES[d])
    grads = net.gradient(x, t)
    loss = net.last_layer.loss
    model, names = twin(net)
    return agreement(net_truth(model, names, x, t, d), loss, grads), net, x, t, model, names


@pytest.mark.parametrize("d", ["f64", "f32"])
@pytest.mark.parametrize("name", ["simple-default", "simple-small", "lenet-small"])
def test_loss_and_grads_within_bound_of_twin(name: str, d: str) -> None:
    ag, net, *_ = _agree(name, d)
    if not (name == "simple-default" and d == "f32"):
        # (the default net at f32 has ReLU inputs within rounding of 0: the dW1/db1 bound
        # then allows either routing and is loose; it must still hold)
        assert ag.ambiguous == 0, "no kink within rounding error, so the bound is tight"
    assert set(ag.err_over_bound) == {"loss", *net.params}
    bad = {k: v for k, v in ag.err_over_bound.items() if v > 1}
    assert not bad, f"err_over_bound > 1: {bad}"


@pytest.mark.parametrize("name", ["simple-small", "lenet-small"])
def test_float32_arithmetic_fails_float64_bound(name: str) -> None:
    """The bound can fail: float32 results judged as float64 are off by orders of magnitude."""
    _, net, x, t, model, names = _agree(name, "f32")
    loss = net.last_layer.loss
    strict = agreement(net_truth(model, names, x, t, "f64"), loss, net.gradient(x, t))
    assert strict.worst > 100


def test_notes_log_epsilon_loss_fails_bound() -> None:
    """The notes' cross-entropy, log(y + 1e-7), is a bug the float64 bound catches."""
    _, net, x, t, model, names = _agree("simple-small", "f64")
    y = net.last_layer.y
    notes_loss = -np.sum(np.log(y[np.arange(len(t)), t] + 1e-7)) / len(t)
    truth = net_truth(model, names, x, t, "f64")
    assert agreement(truth, notes_loss, net.gradient(x, t)).err_over_bound["loss"] > 1


def test_backprop_matches_central_differences() -> None:
    """Central differences with h = 1e-4 err by h^2 |f'''| / 6 (about 1e-9 here) plus
    rounding u |f| / h (about 1e-12): the normwise relative error is ~1e-10, so 1e-7
    leaves room yet catches any wrong term. These seeds and weight scales keep every ReLU input and
    max-pool gap far wider than h, so no step crosses a kink."""
    for net, shape, classes in (
        (SimpleConvNet((1, 6, 6), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1},
                       5, 3, 0.1, rng=0), (1, 6, 6), 3),
        (LeNet((1, 12, 12), LENET_CONVS, (6, 5), 3, rng=0), (1, 12, 12), 3),
    ):
        x, t = _batch(shape, 3, classes, np.float64)
        numeric = net.numerical_gradient(x, t)
        backprop = net.gradient(x, t)
        for k in net.params:
            a, n = backprop[k], numeric[k]
            rel = np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))
            assert rel < 1e-7, f"{type(net).__name__} {k}: relative error {rel:.2e}"


def test_numerical_gradient_puts_values_back() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    before = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    assert x.tobytes() == before.tobytes()
    np.testing.assert_allclose(g, np.cos(before), rtol=1e-8)  # truncation h^2/6 ~ 2e-9


def test_save_load_round_trips_bitwise(tmp_path) -> None:
    src = SimpleConvNet((1, 10, 9), SMALL_CONV, 20, 5, 0.3, rng=5)
    dst = SimpleConvNet((1, 10, 9), SMALL_CONV, 20, 5, 0.3, rng=6)
    path = tmp_path / "params.pkl"
    src.save_params(str(path))
    dst.load_params(str(path))
    for k, v in src.params.items():
        assert dst.params[k].dtype == v.dtype and dst.params[k].tobytes() == v.tobytes(), k
    x, _ = _batch((1, 10, 9), 4, 5, np.float64)
    assert src.predict(x).tobytes() == dst.predict(x).tobytes()
    assert dst.layers["Conv1"].W is dst.params["W1"]
    assert dst.layers["Affine2"].b is dst.params["b3"]


def test_load_params_rejects_other_shapes(tmp_path) -> None:
    path = tmp_path / "params.pkl"
    SimpleConvNet((1, 10, 9), SMALL_CONV, 21, 5, rng=0).save_params(str(path))
    net = SimpleConvNet((1, 10, 9), SMALL_CONV, 20, 5, rng=0)
    with pytest.raises(ValueError, match="W2 must be float64"):
        net.load_params(str(path))


def test_accuracy_counts_the_last_partial_batch() -> None:
    net = SimpleConvNet((1, 8, 8), SMALL_CONV, 10, 3, 0.5, rng=1)
    x, t = _batch((1, 8, 8), 7, 3, np.float64)
    direct = np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert net.accuracy(x, t, batch_size=5) == direct
    assert net.accuracy(x, np.eye(3)[t], batch_size=3) == direct


def test_odd_conv_output_gives_integer_pool_size() -> None:
    """The notes' float pool size gives int(4 * 3.5 * 2.5) = 35 rows for a 7x5 conv output;
    MaxPool2d(2, 2) leaves 3x2, so W2 needs 4 * 3 * 2 = 24."""
    net = SimpleConvNet((1, 9, 7), {"filter_num": 4, "filter_size": 3, "pad": 0, "stride": 1},
                        6, 2, rng=0)
    assert net.params["W2"].shape == (4 * 3 * 2, 6)
    x, t = _batch((1, 9, 7), 2, 2, np.float64)
    assert np.isfinite(net.loss(x, t))


def test_same_seed_same_weights_and_dtype_kept() -> None:
    a = SimpleConvNet((1, 8, 8), SMALL_CONV, 10, 3, rng=7, dtype=np.float32)
    b = SimpleConvNet((1, 8, 8), SMALL_CONV, 10, 3, rng=np.random.default_rng(7),
                      dtype=np.float32)
    for k in a.params:
        assert a.params[k].dtype == np.float32
        assert a.params[k].tobytes() == b.params[k].tobytes()
    x, t = _batch((1, 8, 8), 2, 3, np.float32)
    assert all(g.dtype == np.float32 for g in a.gradient(x, t).values())


def test_bad_conv_param_names_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        SimpleConvNet(conv_param={"filter_nums": 3})
    with pytest.raises(ValueError, match="does not fit"):
        SimpleConvNet((1, 4, 4), {"filter_size": 7})
