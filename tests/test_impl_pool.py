"""impl.Pooling / impl.AvgPooling against torch max_pool2d / avg_pool2d."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from layercheck.impl import AvgPooling, Pooling

try:
    from tests.test_impl_bounds import assert_exact, assert_within, t64
except ImportError:  # tests/ on sys.path instead of the repository root
    from test_impl_bounds import assert_exact, assert_within, t64

DTYPES = [np.float32, np.float64]

# (kh, kw), stride, pad, dilation, ceil_mode
MAX_CONFIGS = [
    ((2, 2), 2, 0, 1, False),
    ((3, 3), 2, 1, 1, False),
    ((3, 3), 1, 1, 1, False),
    ((2, 3), (1, 2), (1, 1), 1, False),
    ((3, 3), 2, 1, 2, False),
    ((2, 2), 2, 0, 1, True),
    ((3, 3), 2, 1, 1, True),
    ((3, 2), 3, (1, 0), 1, True),
    ((1, 1), 1, 0, 1, False),
    ((5, 5), 3, 2, 1, True),
    ((2, 2), 3, 1, 1, False),  # stride > kernel: gaps between windows
]


def make_x(kind, shape, dtype, rng):
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":
        x = rng.integers(-1, 2, shape).astype(float)
    elif kind == "negative":
        x = -np.abs(rng.standard_normal(shape)) - 1
    elif kind == "nan":
        x = rng.integers(-1, 2, shape).astype(float)
        x[rng.random(shape) < 0.15] = np.nan
        x[rng.random(shape) < 0.05] = -np.inf
    elif kind == "neginf":
        x = np.full(shape, -np.inf)
        x[rng.random(shape) < 0.3] = 0.0
    return x.astype(dtype)


def disjoint(kernel, stride, dilation):
    k, s, d = (np.broadcast_to(v, 2) for v in (kernel, stride, dilation))
    return bool(np.all(s >= d * (k - 1) + 1))


@pytest.mark.parametrize("kind", ["normal", "ties", "negative", "nan", "neginf"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", MAX_CONFIGS, ids=[str(i) for i in range(len(MAX_CONFIGS))])
def test_maxpool_matches_torch(config, dtype, kind):
    kernel, stride, pad, dilation, ceil = config
    rng = np.random.default_rng(zlib.crc32(repr((str(config), kind, str(dtype))).encode()))
    x = make_x(kind, (2, 3, 9, 8), dtype, rng)
    x0 = x.copy()
    layer = Pooling(kernel[0], kernel[1], stride, pad, dilation, ceil)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dout)

    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = F.max_pool2d(tx, kernel, stride, pad, dilation, ceil)
    ty.backward(torch.from_numpy(dout))
    assert_exact(y, ty.detach().numpy(), "forward")
    if disjoint(kernel, stride, dilation):
        assert_exact(dx, tx.grad.numpy(), "grad[dx]")
    else:  # overlapping windows sum; any order is fine within the bound
        idx = F.max_pool2d(t64(x), kernel, stride, pad, dilation, ceil, return_indices=True)[1]
        absdx = torch.zeros((2, 3, x[0, 0].size), dtype=torch.float64)
        absdx = absdx.scatter_add(2, idx.flatten(2), t64(np.abs(dout)).flatten(2))
        K = int(np.prod(kernel))
        assert_within(dx, tx.grad, absdx.view(x.shape), K, dtype, "grad[dx]")
    assert np.array_equal(x, x0, equal_nan=True)


def test_maxpool_gradient_goes_to_last_nan_and_first_max():
    x = np.array([[[[np.nan, 1.0, np.nan, 0.0], [2.0, 5.0, 5.0, 1.0]]]])
    layer = Pooling(1, 4, stride=1)
    y = layer.forward(x)
    dx = layer.backward(np.array([[[[1.0], [2.0]]]]))
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 1, 0] == 5.0
    assert_exact(dx, np.array([[[[0.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 0.0]]]]), "dx")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_pooling_unbatched(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 7, 6)).astype(dtype)
    for layer, fn in ((Pooling(2, 2, 2, 1), F.max_pool2d), (AvgPooling(2, 2, 2, 1), F.avg_pool2d)):
        y = layer.forward(x)
        assert y.shape == (3, 4, 4) and y.dtype == dtype
        dx = layer.backward(np.ones_like(y))
        tx = torch.from_numpy(x.copy()).requires_grad_()
        fn(tx, 2, 2, 1).backward(torch.ones(y.shape, dtype=tx.dtype))
        assert dx.shape == x.shape and dx.dtype == dtype
        assert np.allclose(dx, tx.grad.numpy())


# (kh, kw), stride, pad, ceil_mode, count_include_pad, divisor_override
AVG_CONFIGS = [
    ((2, 2), 2, 0, False, True, None),
    ((3, 3), 2, 1, False, True, None),
    ((3, 3), 2, 1, False, False, None),
    ((3, 3), 2, 1, True, True, None),
    ((3, 3), 2, 1, True, False, None),
    ((2, 2), 2, 1, True, True, None),  # windows run past the padded input
    ((2, 4), (1, 3), (1, 2), True, True, None),
    ((3, 3), 1, 1, False, True, 5),
    ((2, 2), 2, 1, True, False, -3),
    ((4, 4), 3, 2, True, True, None),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", AVG_CONFIGS, ids=[str(i) for i in range(len(AVG_CONFIGS))])
def test_avgpool_matches_torch(config, dtype):
    kernel, stride, pad, ceil, include, override = config
    rng = np.random.default_rng(zlib.crc32(repr((str(config), str(dtype))).encode()))
    x = rng.standard_normal((2, 3, 9, 10)).astype(dtype)
    layer = AvgPooling(kernel[0], kernel[1], stride, pad, ceil, include, override)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dout)

    def run(a, d):
        ta = t64(a).requires_grad_()
        ty = F.avg_pool2d(ta, kernel, stride, pad, ceil, include, override)
        ty.backward(t64(d))
        return ty.detach(), ta.grad

    ty, tdx = run(x, dout)
    ay, adx = (a.abs() for a in run(np.abs(x), np.abs(dout)))  # abs: negative override
    K = int(np.prod(kernel)) + 1  # the sum, then one division
    assert_within(y, ty, ay, K, dtype, "forward")
    assert_within(dx, tdx, adx, K, dtype, "grad[dx]")


def test_pool_output_floor_leaves_last_rows_unused():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    layer = Pooling(2, 2, stride=2)
    assert layer.forward(x).shape == (1, 1, 2, 2)
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    assert (dx[..., 4, :] == 0).all() and (dx[..., :, 4] == 0).all()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Pooling(2, 2, stride=0), "stride"),
        (lambda: Pooling(2, 2, pad=-1), "pad"),
        (lambda: Pooling(3, 3, pad=2), "pad"),
        (lambda: Pooling(2, 2, pad=(0, 2)), "pad"),
        (lambda: Pooling(3, 3, pad=2, dilation=2), "pad"),  # kernel, not effective kernel
        (lambda: Pooling(2, 2, dilation=0), "dilation"),
        (lambda: Pooling(0, 2), "kernel"),
        (lambda: Pooling(4, 4).forward(np.ones((1, 1, 3, 5))), "kernel"),
        (lambda: Pooling(3, 3, dilation=2).forward(np.ones((1, 1, 4, 5))), "kernel"),
        (lambda: Pooling(2, 2).forward(np.ones((2, 2))), "x"),
        (lambda: Pooling(2, 2).forward(np.ones((1, 1, 3, 3), dtype=int)), "x"),
        (lambda: Pooling(2, 2).backward(np.ones((1, 1, 3, 3))), "forward"),
        (lambda: AvgPooling(2, 2, stride=(1, 0)), "stride"),
        (lambda: AvgPooling(2, 2, pad=2), "pad"),
        (lambda: AvgPooling(2, 2, divisor_override=0), "divisor_override"),
        (lambda: AvgPooling(5, 5).forward(np.ones((1, 1, 4, 4))), "kernel"),
    ],
)
def test_pool_rejects_impossible_configurations(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_pool_backward_rejects_wrong_dout():
    layer = Pooling(2, 2, 2)
    layer.forward(np.ones((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((1, 2, 3, 2)))
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((1, 2, 2, 2), np.float32))


# ceil_mode: kernel larger than the padded input, yet PyTorch's output size is >= 1
# (H, W), (kh, kw), stride, pad, dilation
CEIL_OVERSIZED = [
    ((1, 1), (2, 1), (2, 1), 0, 1),
    ((1, 3), (2, 2), (2, 1), 0, 1),
    ((2, 2), (3, 3), 2, 0, 1),
    ((1, 2), (4, 2), (3, 1), (1, 0), 1),
    ((4, 5), (3, 2), 3, 0, 2),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", CEIL_OVERSIZED, ids=[str(i) for i in range(len(CEIL_OVERSIZED))])
def test_maxpool_ceil_mode_accepts_kernel_past_input_like_torch(config, dtype):
    hw, kernel, stride, pad, dilation = config
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, *hw)).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = F.max_pool2d(tx, kernel, stride, pad, dilation, ceil_mode=True)
    layer = Pooling(kernel[0], kernel[1], stride, pad, dilation, ceil_mode=True)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.from_numpy(dout))
    assert_exact(y, ty.detach().numpy(), "forward")
    assert_exact(layer.backward(dout), tx.grad.numpy(), "grad[dx]")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("config", [c for c in CEIL_OVERSIZED if c[4] == 1],
                         ids=[str(i) for i, c in enumerate(CEIL_OVERSIZED) if c[4] == 1])
def test_avgpool_ceil_mode_accepts_kernel_past_input_like_torch(config, include, dtype):
    hw, kernel, stride, pad, _ = config
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, *hw)).astype(dtype)
    layer = AvgPooling(kernel[0], kernel[1], stride, pad, ceil_mode=True,
                       count_include_pad=include)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dout)

    def run(a, d):
        ta = t64(a).requires_grad_()
        ty = F.avg_pool2d(ta, kernel, stride, pad, ceil_mode=True, count_include_pad=include)
        ty.backward(t64(d))
        return ty.detach(), ta.grad

    ty, tdx = run(x, dout)
    ay, adx = run(np.abs(x), np.abs(dout))
    K = int(np.prod(kernel)) + 1
    assert_within(y, ty, ay, K, dtype, "forward")
    assert_within(dx, tdx, adx, K, dtype, "grad[dx]")


@pytest.mark.parametrize(
    ("hw", "kernel", "stride"),
    [((1, 1), (3, 1), 1), ((2, 2), (2, 4), 1), ((1, 3), (3, 3), 2)],
)
def test_pool_ceil_mode_rejects_where_torch_output_is_empty(hw, kernel, stride):
    x = np.ones((1, 1, *hw))
    with pytest.raises(RuntimeError):
        F.max_pool2d(torch.from_numpy(x), kernel, stride, ceil_mode=True)
    for layer in (Pooling(*kernel, stride, ceil_mode=True),
                  AvgPooling(*kernel, stride, ceil_mode=True)):
        with pytest.raises(ValueError, match="kernel"):
            layer.forward(x)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", [((2, 2), 2, 0), ((3, 3), 2, 1)], ids=["disjoint", "overlap"])
def test_maxpool_signed_zero_ties_and_gradient_signs_match_torch(config, dtype):
    kernel, stride, pad = config
    rng = np.random.default_rng(11)
    shape = (2, 3, 8, 8)
    # only -0.0 and +0.0: every window is a tie, and the first element must win
    x = np.where(rng.random(shape) < 0.5, -0.0, 0.0).astype(dtype)
    x[0, 0, 0, 0] = np.nan
    layer = Pooling(*kernel, stride, pad)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dout[rng.random(y.shape) < 0.3] = -0.0
    dx = layer.backward(dout)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = F.max_pool2d(tx, kernel, stride, pad)
    ty.backward(torch.from_numpy(dout))
    assert_exact(y, ty.detach().numpy(), "forward")
    if pad == 0:  # disjoint windows: the gradient is a copy, zeros' signs included
        assert_exact(dx, tx.grad.numpy(), "grad[dx]")
    else:
        assert np.array_equal(dx, tx.grad.numpy())


@pytest.mark.parametrize("config", [((2, 2), 2, 0), ((3, 3), 2, 1), ((3, 2), 1, (1, 0))],
                         ids=["disjoint", "overlap", "stride1"])
def test_maxpool_split_over_threads_matches_one_thread_and_torch(monkeypatch, config):
    import layercheck.impl._threads as threads

    kernel, stride, pad = config
    rng = np.random.default_rng(12)
    x = make_x("nan", (4, 5, 9, 8), np.float32, rng)
    layer = Pooling(*kernel, stride, pad)
    y1 = layer.forward(x)
    dout = rng.standard_normal(y1.shape).astype(np.float32)
    dx1 = layer.backward(dout)
    monkeypatch.setattr(threads, "THREADS", 3)
    monkeypatch.setattr(threads, "_MIN_PART", 1)  # split even this small input
    y = layer.forward(x)
    dx = layer.backward(dout)
    assert_exact(y, y1, "forward, 3 threads vs 1")
    assert_exact(dx, dx1, "grad[dx], 3 threads vs 1")
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = F.max_pool2d(tx, kernel, stride, pad)
    ty.backward(torch.from_numpy(dout))
    assert_exact(y, ty.detach().numpy(), "forward")
    if disjoint(kernel, stride, 1):
        assert_exact(dx, tx.grad.numpy(), "grad[dx]")
    else:  # overlapping windows sum; any order is fine within the bound
        idx = F.max_pool2d(t64(x), kernel, stride, pad, return_indices=True)[1]
        absdx = torch.zeros((4, 5, x[0, 0].size), dtype=torch.float64)
        absdx = absdx.scatter_add(2, idx.flatten(2), t64(np.abs(dout)).flatten(2))
        K = int(np.prod(kernel))
        assert_within(dx, tx.grad, absdx.view(x.shape), K, np.float32, "grad[dx]")


@pytest.mark.parametrize("config", MAX_CONFIGS, ids=[str(i) for i in range(len(MAX_CONFIGS))])
def test_maxpool_f64_gradient_is_bit_identical_to_torch(config):
    # float64 sums of overlapping windows are taken in PyTorch's order (output order)
    kernel, stride, pad, dilation, ceil = config
    rng = np.random.default_rng(7)
    x = make_x("ties", (2, 3, 9, 8), np.float64, rng)
    layer = Pooling(kernel[0], kernel[1], stride, pad, dilation, ceil)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    F.max_pool2d(tx, kernel, stride, pad, dilation, ceil).backward(torch.from_numpy(dout))
    assert_exact(dx, tx.grad.numpy(), "grad[dx]")


@pytest.mark.parametrize("config", MAX_CONFIGS, ids=[str(i) for i in range(len(MAX_CONFIGS))])
def test_maxpool_f32_gradient_is_bit_identical_to_torch(config):
    # float32 sums of overlapping windows too: taken in float32, in PyTorch's (output) order
    kernel, stride, pad, dilation, ceil = config
    rng = np.random.default_rng(8)
    x = make_x("ties", (2, 3, 9, 8), np.float32, rng)
    layer = Pooling(kernel[0], kernel[1], stride, pad, dilation, ceil)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dout)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    F.max_pool2d(tx, kernel, stride, pad, dilation, ceil).backward(torch.from_numpy(dout))
    assert_exact(dx, tx.grad.numpy(), "grad[dx]")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_maxpool_gradient_of_nonfinite_dout_matches_torch(dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    layer = Pooling(3, 3, 2, 1)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dout.reshape(-1)[::5], dout.reshape(-1)[::7], dout.reshape(-1)[::11] = np.inf, -np.inf, np.nan
    dout.reshape(-1)[::13] = -0.0
    dx = layer.backward(dout)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    F.max_pool2d(tx, 3, 2, 1).backward(torch.from_numpy(dout))
    assert_exact(dx, tx.grad.numpy(), "grad[dx] with inf, NaN and -0.0 in dout")


def test_maxpool_window_wholly_in_padding_drops_its_gradient():
    # PyTorch accepts it (every dilated tap of the window lies in the padding; its own
    # backward then writes outside the input), so there is no reference to compare with
    x = np.array([[[[2.0]]], [[[3.0]]]])
    layer = Pooling(2, 2, stride=1, pad=1, dilation=2)
    y = layer.forward(x)
    ty = F.max_pool2d(torch.from_numpy(x), 2, 1, 1, 2)
    assert_exact(y, ty.numpy(), "forward")
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and np.array_equal(dx, np.zeros_like(x)), (
        "no input element lies in a window made only of padding: dx must be 0, not an error")
