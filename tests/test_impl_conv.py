"""impl.Convolution against torch.nn.functional.conv2d: forward and every gradient."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch.nn.functional as F
from layercheck.impl import Convolution

try:
    from tests.test_impl_bounds import assert_within, t64
except ImportError:  # tests/ on sys.path instead of the repository root
    from test_impl_bounds import assert_within, t64

DTYPES = [np.float32, np.float64]

# (N, C, H, W), (FN, FH, FW), stride, pad, dilation, groups
CONFIGS = [
    ((2, 3, 7, 5), (4, 3, 3), 1, 0, 1, 1),
    ((2, 3, 7, 5), (4, 3, 3), 2, 1, 1, 1),
    ((1, 4, 8, 8), (6, 1, 1), 1, 0, 1, 2),
    ((2, 2, 9, 9), (3, 2, 2), 2, 0, 1, 1),  # 9 = 2*4 + 1: the last row/column is unused
    ((2, 3, 10, 11), (4, 5, 5), 1, 2, 1, 1),
    ((2, 4, 9, 10), (4, 3, 2), (2, 1), (1, 0), (2, 1), 2),
    ((2, 4, 8, 8), (8, 3, 3), 1, 1, 1, 4),  # depthwise, channel multiplier 2
    ((1, 1, 5, 5), (1, 5, 5), 1, 0, 1, 1),  # kernel covers the input
    ((3, 2, 6, 7), (2, 3, 3), 3, 2, 1, 1),
    ((2, 3, 6, 7), (2, 4, 2), 1, "same", (1, 2), 1),  # even kernel: uneven 'same' split
    ((2, 3, 6, 7), (5, 3, 3), 1, "same", 2, 1),
    ((2, 3, 6, 7), (2, 3, 3), 1, "valid", 1, 1),
    ((2, 3, 6, 6), (2, 3, 3), 1, (1, 0, 2, 1), 1, 1),  # (top, bottom, left, right)
    ((2, 5, 12, 12), (4, 3, 3), 1, 3, 1, 1),  # pad beyond the kernel extent
    ((2, 6, 7, 8), (4, 1, 1), 2, 0, 1, 2),  # 1x1 (plain products), stride 2, groups
    ((2, 3, 5, 6), (5, 1, 1), (1, 2), 0, 2, 1),  # 1x1, strides (1, 2): last column unread
    ((2, 3, 5, 6), (5, 1, 1), 1, 1, 1, 1),  # 1x1 with padding: im2col
]


def torch_conv(x, W, b, stride, pad, dilation, groups):
    if isinstance(pad, tuple) and len(pad) == 4:
        top, bottom, left, right = pad
        x = F.pad(x, (left, right, top, bottom))
        pad = 0
    return F.conv2d(x, W, b, stride, pad, dilation, groups)


def check_conv(x, W, b, stride, pad, dilation, groups, rng):
    dtype = x.dtype.type
    x0, W0 = x.copy(), W.copy()
    b0 = None if b is None else b.copy()
    layer = Convolution(W, b, stride=stride, pad=pad, dilation=dilation, groups=groups)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dout0 = dout.copy()
    dx = layer.backward(dout)

    tx, tW = t64(x).requires_grad_(), t64(W).requires_grad_()
    tb = None if b is None else t64(b).requires_grad_()
    ty = torch_conv(tx, tW, tb, stride, pad, dilation, groups)
    ty.backward(t64(dout))
    # the same sums over absolute values give the rounding-error scale of each output
    ax, aW = t64(np.abs(x)).requires_grad_(), t64(np.abs(W)).requires_grad_()
    ay = torch_conv(ax, aW, None, stride, pad, dilation, groups)
    ay.backward(t64(np.abs(dout)))

    FN, Cg, FH, FW = W.shape
    positions = int(np.prod(y.shape)) // FN
    bias = None if b is None else b[:, None, None]
    assert_within(y, ty.detach(), ay.detach(), Cg * FH * FW, dtype, "forward", bias=bias)
    assert_within(dx, tx.grad, ax.grad, FN // groups * FH * FW, dtype, "grad[dx]")
    assert_within(layer.dW, tW.grad, aW.grad, positions, dtype, "grad[dW]")
    if b is None:
        assert layer.db is None
    else:
        others = tuple(i for i in range(dout.ndim) if i != dout.ndim - 3)
        absdb = np.abs(dout.astype(np.float64)).sum(axis=others)
        assert_within(layer.db, tb.grad, absdb, positions, dtype, "grad[db]")
    # inputs untouched; outputs fresh memory
    for name, a, a0 in (("x", x, x0), ("W", W, W0), ("dout", dout, dout0), ("b", b, b0)):
        if a is not None:
            assert np.array_equal(a, a0, equal_nan=True), f"{name} modified in place"
    for out in (y, dx, layer.dW, layer.db):
        if out is not None:
            assert not any(np.shares_memory(out, a) for a in (x, W, dout) if a is not None)
    return layer


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
def test_conv_matches_torch(config, dtype):
    shape, (FN, FH, FW), stride, pad, dilation, groups = config
    rng = np.random.default_rng(zlib.crc32(repr((str(config), str(dtype))).encode()))
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((FN, shape[1] // groups, FH, FW)).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    check_conv(x, W, b, stride, pad, dilation, groups, rng)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_conv_unbatched_and_no_bias(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 5)).astype(dtype)
    W = rng.standard_normal((2, 3, 3, 2)).astype(dtype)
    layer = check_conv(x, W, None, 1, 1, 1, 1, rng)
    assert layer.forward(x).shape == (2, 6, 6)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_1x1_unbatched_no_bias_and_nonfinite_match_torch(stride):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 5))
    x[1, 2, 2] = np.nan
    W = rng.standard_normal((4, 3, 1, 1))
    W[2, 0] = np.inf
    layer = check_conv(x, W, None, stride, 0, 1, 1, rng)
    assert layer.pointwise, "a 1x1 kernel without padding should take the plain products"
    assert layer.forward(x).shape == (4, *((6, 5) if stride == 1 else (3, 3)))


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_nonfinite_inputs_propagate_like_torch(stride):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 7, 7))
    x[0, 1, 3, 5] = np.nan
    x[1, 0, 0, 6] = np.inf
    W = rng.standard_normal((3, 2, 3, 3))
    W[1, 0, 2, 2] = np.nan
    check_conv(x, W, rng.standard_normal(3), stride, 1, 1, 1, rng)


def test_conv_input_scaled_far_apart_still_within_bound():
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 8, 9, 9)) * 10.0 ** rng.integers(-6, 6, (4, 8, 9, 9)))
    W = rng.standard_normal((5, 8, 3, 3))
    check_conv(x.astype(np.float32), W.astype(np.float32), np.ones(5, np.float32), 1, 1, 1, 1,
               rng)


def _conv(**kw):
    args = {"W": np.ones((4, 3, 3, 3)), "b": np.zeros(4)}
    args.update(kw)
    return Convolution(**args)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _conv(stride=0), "stride"),
        (lambda: _conv(stride=(1, -1)), "stride"),
        (lambda: _conv(pad=-1), "pad"),
        (lambda: _conv(pad=(0, 0, -1, 0)), "pad"),
        (lambda: _conv(pad="full"), "pad"),
        (lambda: _conv(pad="same", stride=2), "same"),
        (lambda: _conv(dilation=0), "dilation"),
        (lambda: _conv(groups=3), "groups"),
        (lambda: _conv(groups=0), "groups"),
        (lambda: _conv(W=np.ones((4, 3, 3))), "W"),
        (lambda: _conv(b=np.zeros(3)), "b"),
        (lambda: _conv(b=np.zeros(4, np.float32)), "dtype"),
        (lambda: _conv().forward(np.ones((2, 3, 2, 2))), "kernel"),
        (lambda: _conv(dilation=3).forward(np.ones((2, 3, 6, 6))), "kernel"),
        (lambda: _conv().forward(np.ones((2, 2, 5, 5))), "channels"),
        (lambda: _conv(W=np.ones((4, 1, 3, 3)), groups=2).forward(np.ones((1, 3, 5, 5))),
         "channels"),
        (lambda: _conv().forward(np.ones((3, 5, 5))[None, None]), "x"),
        (lambda: _conv().forward(np.ones((5, 5))), "x"),
        (lambda: _conv().forward(np.ones((1, 3, 5, 5), np.float32)), "dtype"),
        (lambda: _conv().backward(np.ones((1, 4, 3, 3))), "forward"),
    ],
)
def test_conv_rejects_impossible_configurations(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_conv_backward_rejects_wrong_dout_shape():
    layer = _conv()
    layer.forward(np.ones((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((2, 4, 3, 4)))


def test_conv_kernel_message_names_sizes():
    with pytest.raises(ValueError, match=r"kernel height.*padded input height 2"):
        _conv(pad=(0, 1)).forward(np.ones((1, 3, 2, 5)))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("stacked", [False, True], ids=["per_sample", "stacked"])
@pytest.mark.parametrize(("stride", "pad", "dilation", "groups"), [
    (1, 1, 1, 1), (2, 1, 1, 2), (1, 0, 2, 1), ((3, 2), (2, 0), (1, 2), 1)])
def test_conv_every_layout_matches_torch(monkeypatch, dtype, stacked, threads, stride, pad,
                                          dilation, groups):
    """Both column layouts (one product per sample, or one per chunk), over several
    chunks, split over threads or not, with dx by col2im (one channel at a time) and by
    correlation."""
    import layercheck.impl.conv as conv
    from layercheck.impl import _threads

    monkeypatch.setattr(_threads, "THREADS", threads)
    monkeypatch.setattr(_threads, "_MIN_PART", 1)  # split even these small chunks
    monkeypatch.setattr(conv.Convolution, "_chunks",  # chunks of 2 samples
                        lambda self, N, per_sample: [(n, min(n + 2, N)) for n in range(0, N, 2)])

    monkeypatch.setattr(conv, "_STACK_K", 1 if stacked else 10**9)
    monkeypatch.setattr(conv, "_FOLD_SHARE", 0)
    monkeypatch.setattr(conv, "FORCE_LAYOUT", "default")
    rng = np.random.default_rng(21)
    x = rng.standard_normal((20, 4, 11, 9)).astype(dtype)  # 20 samples: chunks of 2
    W = rng.standard_normal((6, 4 // groups, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    for path in ("col2im", "correlation"):
        monkeypatch.setattr(conv, "FORCE_DX_PATH", path)
        layer = check_conv(x, W, b, stride, pad, dilation, groups, rng)
        assert any(k.startswith("ccol") for k in layer._bufs) == (path == "correlation")


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(("shape", "kernel", "stride", "pad", "dilation", "groups"), [
    ((3, 4, 7, 6), (4, 3, 3), 1, 0, 1, 1),
    ((3, 4, 7, 6), (6, 3, 2), 1, 1, 1, 1),
    ((3, 4, 8, 9), (4, 5, 5), 1, 2, 1, 1),
    ((3, 4, 9, 9), (4, 3, 3), 1, 2, 2, 1),
    ((3, 4, 9, 9), (4, 3, 3), 1, 1, (2, 3), 1),
    ((3, 4, 9, 9), (4, 3, 3), 1, (3, 0, 0, 2), 1, 1),  # pad > d*(k-1) on top: dout cropped
    ((3, 4, 9, 9), (4, 3, 3), 1, 4, 1, 1),  # pad > d*(k-1): dout cropped on every side
    ((3, 4, 9, 8), (6, 3, 3), 1, (0, 2), 2, 2),
    ((3, 4, 9, 8), (4, 2, 4), 1, "same", (2, 1), 1),  # uneven 'same' split
    ((3, 4, 9, 9), (4, 3, 3), 2, 1, 1, 1),  # four phases
    ((3, 4, 10, 11), (4, 3, 2), (2, 3), (1, 0), (1, 2), 2),
    ((3, 4, 11, 10), (4, 2, 2), 3, 0, 1, 1),  # phases no tap reaches: zero gradient
    ((3, 4, 9, 9), (4, 3, 3), 2, 4, 1, 1),  # windows wholly in padding
    ((2, 4, 12, 12), (4, 3, 3), 3, 2, 2, 1),  # dilation 2 and stride 3
])
def test_conv_dx_as_correlation_matches_torch(monkeypatch, dtype, shape, kernel, stride, pad,
                                              dilation, groups):
    import layercheck.impl.conv as conv

    monkeypatch.setattr(conv, "FORCE_DX_PATH", "correlation")
    monkeypatch.setattr(conv, "FORCE_LAYOUT", "default")
    rng = np.random.default_rng(zlib.crc32(repr((shape, kernel, str(pad), str(dtype))).encode()))
    FN, FH, FW = kernel
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((FN, shape[1] // groups, FH, FW)).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    layer = check_conv(x, W, b, stride, pad, dilation, groups, rng)
    assert "ccol0" in layer._bufs and "dcol" not in layer._bufs  # the correlation path ran
    dout = rng.standard_normal(layer.forward(x).shape).astype(dtype)
    assert np.array_equal(layer.backward(dout), layer.backward(dout))  # kept zero borders


@pytest.mark.parametrize("path", ["col2im", "correlation", "sample_last"])
@pytest.mark.parametrize(("stride", "pad"), [(1, 2), (2, 1), ((2, 3), (3, 0))])
def test_conv_kept_buffers_do_not_leak_between_calls(monkeypatch, path, stride, pad):
    """Work buffers are kept between calls (their padding parts zero): a second input
    gives the same bits as a fresh layer, forward and backward."""
    import layercheck.impl.conv as conv

    if path == "sample_last":
        monkeypatch.setattr(conv, "FORCE_LAYOUT", "sample_last")
    else:
        monkeypatch.setattr(conv, "FORCE_LAYOUT", "default")
        monkeypatch.setattr(conv, "FORCE_DX_PATH", path)
    rng = np.random.default_rng(5)
    W, b = rng.standard_normal((4, 4, 3, 3)), rng.standard_normal(4)
    x1, x2 = (rng.standard_normal((5, 4, 9, 10)) for _ in range(2))
    used = Convolution(W, b, stride, pad)
    used.backward(rng.standard_normal(used.forward(x1).shape))
    fresh = Convolution(W, b, stride, pad)
    y2 = fresh.forward(x2)
    dout = rng.standard_normal(y2.shape)
    assert np.array_equal(used.forward(x2), y2)
    assert np.array_equal(used.backward(dout), fresh.backward(dout))
    assert np.array_equal(used.dW, fresh.dW) and np.array_equal(used.db, fresh.db)


@pytest.mark.parametrize("N", [1, 2, 7, 20])
@pytest.mark.parametrize("per_sample", [1, 10**3, 10**9])
def test_conv_backward_chunks_cover_the_batch_in_order(N, per_sample):
    layer = Convolution(np.ones((4, 3, 3, 3)), np.zeros(4), 1, 1)
    layer.forward(np.ones((N, 3, 8, 8)))
    chunks = layer._chunks(N, per_sample)
    assert [s for c in chunks for s in range(*c)] == list(range(N))
    assert max(s1 - s0 for s0, s1 in chunks) <= max(1, N // 2)


@pytest.mark.parametrize("kernel", [3, 1], ids=["im2col", "pointwise"])
def test_conv_without_dx_gives_the_same_dW_and_db(kernel):
    """need_dx = False (a network's first layer): backward returns None, dW and db as
    with dx."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 7, 6))
    W, b = rng.standard_normal((4, 2, kernel, kernel)), rng.standard_normal(4)
    full = Convolution(W, b, 1, 0)
    dout = rng.standard_normal(full.forward(x).shape)
    full.backward(dout)
    lean = Convolution(W, b, 1, 0)
    lean.need_dx = False
    lean.forward(x)
    assert lean.backward(dout) is None, "need_dx=False: backward must skip dx"
    assert np.array_equal(lean.dW, full.dW) and np.array_equal(lean.db, full.db)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("config", [c for c in CONFIGS if c[2] == 1 and c[5] == 1],
                         ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}-{c[4]}")
def test_conv_sample_last_layout_matches_torch(monkeypatch, config, dtype, threads):
    """Every stride-1, one-group configuration in the sample-last layout, split over
    threads or not, with and without dx."""
    import layercheck.impl.conv as conv
    from layercheck.impl import _threads

    monkeypatch.setattr(conv, "FORCE_LAYOUT", "sample_last")
    monkeypatch.setattr(_threads, "THREADS", threads)
    monkeypatch.setattr(_threads, "_MIN_PART", 1)
    monkeypatch.setattr(conv, "_FOLD_SHARE", 0)  # one channel of dcol at a time
    shape, (FN, FH, FW), stride, pad, dilation, groups = config
    rng = np.random.default_rng(zlib.crc32(repr((str(config), str(dtype))).encode()))
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((FN, shape[1], FH, FW)).astype(dtype)
    b = rng.standard_normal(FN).astype(dtype)
    layer = check_conv(x, W, b, stride, pad, dilation, groups, rng)
    assert layer.sample_last or layer.pointwise, "the sample-last layout did not run"
    dW = layer.dW
    layer.need_dx = False
    assert layer.backward(np.ones(layer.forward(x).shape, dtype)) is None
    assert layer.dW.shape == dW.shape


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_conv_sample_last_unbatched_no_bias_nonfinite(monkeypatch, dtype):
    import layercheck.impl.conv as conv

    monkeypatch.setattr(conv, "FORCE_LAYOUT", "sample_last")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 6, 5)).astype(dtype)
    x[1, 2, 3] = np.nan
    W = rng.standard_normal((2, 3, 3, 2)).astype(dtype)
    layer = check_conv(x, W, None, 1, 1, 1, 1, rng)
    assert layer.sample_last and layer.forward(x).shape == (2, 6, 6)


@pytest.mark.parametrize(("stride", "pad"), [(1, 1), (2, 1)])
def test_conv_layer_reused_on_other_input_sizes_matches_fresh_layers(stride, pad):
    """Plans and buffers are kept per geometry: switching input sizes and back gives the
    same bits as fresh layers."""
    rng = np.random.default_rng(8)
    W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    used = Convolution(W, b, stride, pad)
    for shape in ((4, 2, 9, 7), (4, 2, 6, 11), (4, 2, 9, 7)):
        x = rng.standard_normal(shape)
        fresh = Convolution(W, b, stride, pad)
        y = fresh.forward(x)
        dout = rng.standard_normal(y.shape)
        assert np.array_equal(used.forward(x), y), shape
        assert np.array_equal(used.backward(dout), fresh.backward(dout)), shape
        assert np.array_equal(used.dW, fresh.dW), shape



@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(("shape", "kernel", "pad", "dilation"), [
    ((5, 4, 8, 7), (3, 3), 1, 1),
    ((3, 3, 9, 8), (3, 2), (2, 0, 1, 1), (2, 1)),  # uneven padding, dilation
    ((4, 2, 6, 6), (5, 5), 4, 1),  # padding past the kernel: windows wholly in padding
    ((2, 3, 7, 6), (2, 3), "same", 1),
])
def test_conv_depthwise_matches_torch(monkeypatch, shape, kernel, pad, dilation, dtype,
                                      threads):
    """groups = C = FN at stride 1: the tap-by-tap path, with and without dx."""
    from layercheck.impl import _threads

    monkeypatch.setattr(_threads, "THREADS", threads)
    monkeypatch.setattr(_threads, "_MIN_PART", 1)
    rng = np.random.default_rng(zlib.crc32(repr((shape, kernel, str(pad))).encode()))
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    W = rng.standard_normal((C, 1, *kernel)).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    layer = check_conv(x, W, b, 1, pad, dilation, C, rng)
    assert layer.depthwise, "the depthwise path did not run"
    dW, db = layer.dW.copy(), layer.db.copy()
    dout = rng.standard_normal(layer.forward(x).shape).astype(dtype)
    layer.backward(dout)
    dW, db = layer.dW.copy(), layer.db.copy()
    layer.need_dx = False
    assert layer.backward(dout) is None
    assert np.array_equal(layer.dW, dW) and np.array_equal(layer.db, db)


def test_conv_depthwise_unbatched_no_bias_nonfinite():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 6, 5))
    x[1, 2, 2] = np.inf
    W = rng.standard_normal((3, 1, 3, 3))
    W[2, 0, 1, 1] = np.nan
    layer = check_conv(x, W, None, 1, 1, 1, 3, rng)
    assert layer.depthwise and layer.db is None
