"""impl Affine, Relu, SoftmaxWithLoss and im2col/col2im against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from layercheck.impl import Affine, Relu, SoftmaxWithLoss, col2im, im2col

try:
    from tests.test_impl_bounds import assert_exact, assert_within, t64, unit_roundoff
except ImportError:  # tests/ on sys.path instead of the repository root
    from test_impl_bounds import assert_exact, assert_within, t64, unit_roundoff

DTYPES = [np.float32, np.float64]
IDS = ["f32", "f64"]


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(4, 6), (3, 2, 3, 5), (1, 7)])
def test_affine_matches_torch_linear(shape, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    n_in = int(np.prod(shape[1:]))
    W = rng.standard_normal((n_in, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    x0 = x.copy()
    layer = Affine(W, b)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(dout)

    def run(xv, Wv, bv, dv):
        tx, tW, tb = (t64(a).requires_grad_() for a in (xv, Wv, bv))
        ty = F.linear(tx.reshape(len(xv), -1), tW.T, tb)
        ty.backward(t64(dv))
        return ty.detach(), tx.grad, tW.grad, tb.grad

    truth = run(x, W, b, dout)
    absval = run(np.abs(x), np.abs(W), np.zeros_like(b), np.abs(dout))
    N = shape[0]
    assert_within(y, truth[0], absval[0], n_in, dtype, "forward", bias=b)
    assert_within(dx, truth[1], absval[1], 5, dtype, "grad[dx]")
    assert_within(layer.dW, truth[2], absval[2], N, dtype, "grad[dW]")
    assert_within(layer.db, truth[3], np.abs(dout).sum(0), N, dtype, "grad[db]")
    assert dx.shape == x.shape and np.array_equal(x, x0)
    assert not np.shares_memory(dx, dout) and not np.shares_memory(y, x)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Affine(np.ones((3, 2, 1)), np.ones(2)), "W"),
        (lambda: Affine(np.ones((3, 2)), np.ones(3)), "b"),
        (lambda: Affine(np.ones((3, 2)), np.ones(2)).forward(np.ones((4, 5))), "W.shape"),
        (lambda: Affine(np.ones((3, 2)), np.ones(2)).forward(np.ones(3)), "x"),
        (lambda: Affine(np.ones((3, 2)), np.ones(2)).forward(np.ones((1, 3), np.float32)),
         "dtype"),
    ],
)
def test_affine_rejects_bad_shapes(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
def test_relu_is_bit_identical_to_torch(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    x.flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45]
    dout = rng.standard_normal(x.shape).astype(dtype)
    dout.flat[6] = np.nan
    x0 = x.copy()
    layer = Relu()
    y = layer.forward(x)
    dx = layer.backward(dout)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = torch.relu(tx)
    ty.backward(torch.from_numpy(dout))
    assert_exact(y, ty.detach().numpy(), "forward")
    assert_exact(dx, tx.grad.numpy(), "grad[dx]")
    assert np.array_equal(x, x0, equal_nan=True)
    y[...] = 7
    assert np.array_equal(x, x0, equal_nan=True), "output aliases the input"


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize("onehot", [False, True])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1000.0])
def test_softmax_with_loss_matches_cross_entropy(dtype, onehot, scale):
    rng = np.random.default_rng(7)
    N, K = 8, 10
    x = (rng.standard_normal((N, K)) * scale).astype(dtype)
    labels = rng.integers(0, K, N)
    t = np.eye(K, dtype=dtype)[labels] if onehot else labels
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(2.5)
    tx = t64(x).requires_grad_()
    tloss = F.cross_entropy(tx, torch.from_numpy(labels))
    tloss.backward(torch.tensor(2.5, dtype=torch.float64))
    assert np.asarray(loss).dtype == dtype and np.ndim(loss) == 0
    u = unit_roundoff(dtype)
    # log-softmax is exact up to a few roundings of max|x| and log(K) per term
    tol = 8 * (K + N) * u * (np.abs(x).max() + np.log(K) + 1)
    assert abs(float(loss) - tloss.item()) <= tol, (float(loss), tloss.item())
    assert dx.dtype == dtype and dx.shape == x.shape
    assert np.all(np.abs(dx - tx.grad.numpy()) <= 8 * (K + 2) * u * 2.5 / N * 2 + 1e-300)
    assert np.isfinite(loss)


def test_softmax_with_loss_default_dout_is_one():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    layer = SoftmaxWithLoss()
    layer.forward(x, np.array([2, 0]))
    dx = layer.backward()
    y = np.exp(x - x.max(1, keepdims=True))
    y /= y.sum(1, keepdims=True)
    assert np.allclose(dx, (y - np.eye(3)[[2, 0]]) / 2, rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize(
    ("x", "t", "match"),
    [
        (np.zeros((2, 3)), np.array([0, 3]), "t"),
        (np.zeros((2, 3)), np.array([-1, 0]), "t"),
        (np.zeros((2, 3)), np.array([0, 1, 2]), "t"),
        (np.zeros((2, 3)), np.zeros((2, 4)), "t"),
        (np.zeros((2, 3)), np.array([0.0, 1.0]), "t"),
        (np.zeros(3), np.array([0]), "x"),
    ],
)
def test_softmax_with_loss_rejects_bad_labels(x, t, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxWithLoss().forward(x, t)


@pytest.mark.parametrize("dtype", DTYPES, ids=IDS)
@pytest.mark.parametrize(
    ("fh", "fw", "stride", "pad", "dilation"),
    [(3, 3, 1, 0, 1), (2, 3, 2, 1, 1), (3, 2, (1, 2), (2, 1), (2, 1)), (1, 1, 1, 0, 1)],
)
def test_im2col_col2im_match_unfold_fold(fh, fw, stride, pad, dilation, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    col = im2col(x, fh, fw, stride, pad, dilation)
    tcol = F.unfold(torch.from_numpy(x), (fh, fw), dilation, pad, stride)  # (N, C*fh*fw, L)
    expected = tcol.transpose(1, 2).reshape(-1, tcol.shape[1]).numpy()
    assert_exact(col, expected, "im2col")  # a pure copy: bit for bit
    dcol = rng.standard_normal(col.shape).astype(dtype)
    img = col2im(dcol, x.shape, fh, fw, stride, pad, dilation)
    L = tcol.shape[2]
    as_fold = t64(dcol).reshape(2, L, -1).transpose(1, 2)
    truth = F.fold(as_fold, x.shape[2:], (fh, fw), dilation, pad, stride)
    absval = F.fold(as_fold.abs(), x.shape[2:], (fh, fw), dilation, pad, stride)
    assert_within(img, truth, absval, fh * fw, dtype, "col2im")


def test_im2col_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        im2col(np.ones((1, 1, 4, 4)), 2, 2, stride=0)
    with pytest.raises(ValueError, match="kernel"):
        im2col(np.ones((1, 1, 4, 4)), 5, 2)
    with pytest.raises(ValueError, match="input"):
        im2col(np.ones((4, 4)), 2, 2)
    with pytest.raises(ValueError, match="col"):
        col2im(np.ones((3, 4)), (1, 1, 4, 4), 2, 2)


@pytest.mark.parametrize("sign_kept", [None, False], ids=["probed", "restored"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_split_over_threads_is_bit_identical_to_torch(dtype, sign_kept,
                                                           monkeypatch) -> None:
    """Also where np.maximum is taken not to keep -0.0 (Relu then restores x's zeros)."""
    from layercheck.impl import _threads, layers

    if sign_kept is not None:
        monkeypatch.setattr(layers, "_SIGN_KEPT", {np.dtype(dtype): sign_kept})
    monkeypatch.setattr(layers, "_BLOCK", 10007)  # several blocks per thread, a short last
    monkeypatch.setattr(layers, "_ZEROS", {})
    monkeypatch.setattr(_threads, "THREADS", 3)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 5, 97, 101)).astype(dtype)  # > 2**16 elements: split
    flat = x.reshape(-1)
    flat[::7], flat[::11], flat[::13], flat[::17] = -0.0, 0.0, np.nan, -np.inf
    flat[::19] = np.copysign(np.nan, -1)  # a NaN with its sign bit set passes as it is
    dout = rng.standard_normal(x.shape).astype(dtype)
    dout.reshape(-1)[::5] = np.inf  # inf where the gradient is dropped must become +0.0
    layer = Relu()
    out, dx = layer.forward(x), layer.backward(dout)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.relu(xt)
    (gt,) = torch.autograd.grad(yt, [xt], torch.from_numpy(dout))
    ints = np.int32 if dtype == np.float32 else np.int64
    assert np.array_equal(out.view(ints), yt.detach().numpy().view(ints)), "forward bits differ"
    assert np.array_equal(dx.view(ints), gt.numpy().view(ints)), "gradient bits differ"


@pytest.mark.parametrize(("omp", "want"), [(None, None), ("1", 1), ("64", None), ("x", None)])
def test_impl_thread_budget_follows_omp_num_threads(monkeypatch, omp, want):
    import layercheck.impl._threads as threads

    cores = min(4, threads._cores())
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    assert threads._budget() == (cores if want is None else want)


def test_impl_blas_single_limits_blas_and_restores_it(monkeypatch):
    import layercheck.impl._threads as threads
    from threadpoolctl import threadpool_info, threadpool_limits

    monkeypatch.setattr(threads, "THREADS", 2)
    with threadpool_limits(2, user_api="blas"):
        with threads.blas_single():
            inside = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
        after = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert inside == {1} and after == {2}
