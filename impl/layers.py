"""Affine, Relu and SoftmaxWithLoss layers (the notes' API, PyTorch semantics)."""

from __future__ import annotations

import numpy as np

from ._threads import split
from ._validate import float_array, same_dtype, shape_is, weights


class Affine:
    """Fully connected layer ``x @ W + b`` with ``W`` of shape (in, out)."""

    def __init__(self, W, b):
        weights(W, b, "(in, out)", out_axis=1)
        self.W, self.b = W, b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        float_array(x, "x")
        same_dtype(x, self.W, "x", "W")
        if x.ndim < 2:
            raise ValueError(f"x must have a batch axis (ndim >= 2), got x.ndim={x.ndim}")
        x2 = x.reshape(x.shape[0], -1)
        if x2.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"x flattens to {x2.shape[1]} features per sample, W.shape[0]={self.W.shape[0]}"
            )
        self.x, self.x2 = x, x2
        out = x2 @ self.W
        if self.b is not None:
            out += self.b
        return out

    def backward(self, dout):
        if self.x is None:
            raise ValueError("backward called before forward (x is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.W, "dout", "W")
        shape_is(dout, (self.x.shape[0], self.W.shape[1]), "dout")
        self.dW = self.x2.T @ dout
        self.db = None if self.b is None else dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.x.shape)


def _zero_where(a: np.ndarray, drop: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """A copy of float ``a`` (into ``out`` if given) with +0.0 where ``drop``, every other
    value bit for bit.

    An AND with an all-ones or all-zeros bit mask: several times faster than np.where on
    random masks, and exact for NaN, inf and -0.0.
    """
    if out is None:
        out = np.empty_like(a)
    if a.dtype not in (np.float32, np.float64):
        out[...] = np.where(drop, np.zeros((), dtype=a.dtype), a)
        return out
    ints = a.dtype.str.replace("f", "i")  # same-width signed ints
    keep = np.subtract(drop, 1, dtype=ints)  # drop: 0, keep: -1 (all bits set)
    np.bitwise_and(a.view(ints), keep, out=out.view(ints))
    return out


# Relu works in blocks of this many elements: np.maximum runs its SIMD loop only against a
# contiguous operand (against a broadcast scalar it is 3-4x slower), so each block is
# compared with a zero block of the same size; masks go through block-sized scratch.
# Fewer, larger blocks pay up to the L2 cache (fwd+bwd (100,30,24,24) f32, one thread:
# 2**15 1.15 ms, 2**17 0.93, 2**18 0.98, 2**20 1.03; torch 0.82).
_BLOCK = 1 << 17
_ZEROS: dict[np.dtype, np.ndarray] = {}


def _zero_block(dtype: np.dtype) -> np.ndarray:
    z = _ZEROS.get(dtype)
    if z is None:
        z = _ZEROS[dtype] = np.zeros(_BLOCK, dtype)
        z.flags.writeable = False
    return z


_SIGN_KEPT: dict[np.dtype, bool] = {}


def _max_keeps_sign(dtype: np.dtype) -> bool:
    """Whether np.maximum(zeros, x) is exactly torch.relu(x) here: on a tie of zeros it
    returns x's zero (-0.0 stays), and x's NaN as it is. IEEE leaves the tie open; NumPy's
    SIMD loops return the second operand. Probed once per dtype on lengths and offsets
    that reach the vector loops and their tails; otherwise Relu restores x's zeros itself.
    """
    kept = _SIGN_KEPT.get(dtype)
    if kept is None:
        kept = True
        for n in (1, 7, 37, 1000, _BLOCK + 3):
            for off in (0, 1):
                x = np.zeros(n + off, dtype)[off:]
                x[::2] = -0.0
                x[1::3] = np.copysign(np.nan, -1)
                x[2::5] = -1.5
                want = _zero_where(x, x < 0)
                got = np.maximum(_zero_block(dtype)[:1].repeat(n), x)
                ints = dtype.str.replace("f", "i")
                kept &= bool(np.array_equal(got.view(ints), want.view(ints)))
        _SIGN_KEPT[dtype] = kept
    return kept


def _blocks(lo: int, hi: int):
    for i in range(lo, hi, _BLOCK):
        yield i, min(hi, i + _BLOCK)


class Relu:
    """max(x, 0) as torch.relu: -0.0 and NaN pass through; gradient 0 where output <= 0."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        if not isinstance(x, np.ndarray):
            raise ValueError(f"x must be a numpy.ndarray, got x of type {type(x).__name__}")
        x = np.ascontiguousarray(x)
        out, self.mask = np.empty_like(x), np.empty(x.shape, dtype=bool)
        xs, os_, ms = x.reshape(-1), out.reshape(-1), self.mask.reshape(-1)
        if x.dtype not in (np.float32, np.float64):
            _zero_where(xs, xs < 0, out=os_)
            np.less_equal(os_, 0, out=ms)
            return out
        zeros = _zero_block(x.dtype)
        sign_kept = _max_keeps_sign(x.dtype)

        def part(lo: int, hi: int) -> None:
            for i, j in _blocks(lo, hi):
                xb, ob = xs[i:j], os_[i:j]
                np.maximum(zeros[: j - i], xb, out=ob)  # NaN passes
                np.less_equal(xb, 0, out=ms[i:j])
                if not sign_kept:  # zeros keep their sign: -0.0 stays -0.0
                    z = np.flatnonzero(xb == 0)
                    ob[z] = xb[z]

        split(part, xs.size, xs.size)
        return out

    def backward(self, dout):
        if self.mask is None:
            raise ValueError("backward called before forward (mask is None)")
        shape_is(dout, self.mask.shape, "dout")
        dout = np.ascontiguousarray(dout)
        dx = np.empty_like(dout)
        ds, dxs, ms = dout.reshape(-1), dx.reshape(-1), self.mask.reshape(-1)

        if dout.dtype not in (np.float32, np.float64):
            _zero_where(ds, ms, out=dxs)
            return dx
        ints = dout.dtype.str.replace("f", "i")
        di, dxi = ds.view(ints), dxs.view(ints)

        def part(lo: int, hi: int) -> None:
            keep8 = np.empty(_BLOCK, np.int8)
            keep = np.empty(_BLOCK, ints)
            for i, j in _blocks(lo, hi):
                n = j - i
                # keep: all bits set where the mask is False (0 - 1), none where True
                np.subtract(ms[i:j].view(np.int8), 1, out=keep8[:n])
                np.copyto(keep[:n], keep8[:n])
                np.bitwise_and(di[i:j], keep[:n], out=dxi[i:j])

        split(part, ds.size, ds.size)
        return dx


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax with the row maximum subtracted first."""
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class SoftmaxWithLoss:
    """Softmax + mean cross-entropy (torch CrossEntropyLoss, reduction='mean')."""

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def _target(self, x: np.ndarray, t) -> np.ndarray:
        """Labels as a (N, K) array of target probabilities in x's dtype."""
        t = np.asarray(t)
        N, K = x.shape
        if t.shape == (N,):
            if t.dtype.kind not in "iu":
                raise ValueError(f"t labels must be integers, got t.dtype={t.dtype}")
            if N and (t.min() < 0 or t.max() >= K):
                raise ValueError(
                    f"t labels must be in [0, {K}), got t in [{t.min()}, {t.max()}]"
                )
            onehot = np.zeros((N, K), dtype=x.dtype)
            onehot[np.arange(N), t] = 1
            return onehot
        if t.shape == (N, K):
            if t.dtype.kind in "iub":
                return t.astype(x.dtype)
            same_dtype(t, x, "t", "x")
            return t
        raise ValueError(f"t must have shape ({N},) or ({N}, {K}), got t.shape={t.shape}")

    def forward(self, x, t):
        float_array(x, "x")
        if x.ndim != 2:
            raise ValueError(f"x must be 2-D (N, K) logits, got x.ndim={x.ndim}")
        self.t = self._target(x, t)
        logp = log_softmax(x)
        self.y = np.exp(logp)
        self.loss = np.asarray(-(self.t * logp).sum() / x.dtype.type(x.shape[0]),
                               dtype=x.dtype)[()]
        return self.loss

    def backward(self, dout=1):
        if self.y is None:
            raise ValueError("backward called before forward (y is None)")
        dtype = self.y.dtype.type
        scale = dtype(dout) / dtype(self.y.shape[0])
        return (self.y - self.t) * scale
