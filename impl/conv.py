"""Convolution layer (PyTorch ``conv2d`` semantics) built on im2col and matrix products.

Forward copies every sample's windows into the column matrix ``col`` (G, C/G*kh*kw, N,
oh*ow), tap by tap straight from x (layercheck.impl.phases); with a bias it has one more row, of
ones, so the product with [W | b] adds the bias and the dW product gives db.
Backward: dW = dout @ colᵀ; dx either by col2im (dcol = Wᵀ @ dout, added back window by
window) or, where there are no more filters than channels, as correlations of dout with
the flipped W, one per phase of the stride (copies instead of adds: faster in NumPy).
Work buffers are kept between calls; parts that windows take from the padding stay zero.

Three shapes take other routes. A 1x1 kernel without padding is plain products of W and
x (no im2col). At stride 1 with one group and narrow outputs (ow < 16) the arrays are
laid out sample-last, (C, H, W, N), so every copy and add runs over ow*N elements.
Depthwise (groups = C = FN, stride 1) goes channel by channel, each step an np.einsum
over the taps' windows. ``need_dx = False`` skips dx (a network's first layer).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._threads import blas_single, split
from ._validate import (
    at_least,
    conv_output_size,
    float_array,
    padding,
    pair,
    same_dtype,
    shape_is,
    weights,
)
from .phases import Phases

# Threads: every step is split sample-wise over impl's threads (layercheck.impl._threads), with BLAS
# on one thread per call. OpenBLAS runs small products on one thread whatever its setting,
# and after a large one its workers spin on, slowing the next step (2 threads: cifar f32
# forward 2.1 -> 1.2 ms, C=64 f32 forward 5.3 -> 3.7 ms).
#
# Backward computes dx chunk by chunk: as many samples at a time (at most half the batch)
# as keep the chunk's buffers within this share of the column matrix and the output (the
# memory goal's yardstick). Fewer, larger chunks pay (2 threads, mnist backward: 1/8 of
# the batch 3.7 ms, 1/2 2.8 ms).
_CHUNK_SHARE = 1 / 4

# Where a column holds at least this many elements, the samples of a thread's part share
# one matrix product (their columns side by side) instead of one product each: fewer,
# larger products run nearer BLAS's peak (C=64 3x3 f32: 2.9 ms against 4.0 for 32
# samples), at the price of a transposed copy of the product, small next to it only for
# such columns.
_STACK_K = 128

# col2im computes dx's columns for as many channels at a time as fit in this share of the
# column matrix (fewer, larger adds are faster; this keeps the buffer small next to it).
_FOLD_SHARE = 1 / 16

# Stride 1, one group, outputs at most this wide: the sample-last layout (see
# _forward_sample_last), whose copies run over ow*N elements at a time instead of ow.
# Measured fwd+bwd, one thread, f32 ms, sample-last vs default: LeNet's second conv
# (ow 10) 2.90 vs 4.59, AlexNet's (ow 15) 17.1 vs 19.9, (ow 7) 3.68 vs 5.12; but C=64
# 16x16 3x3 (ow 16) 23.1 vs 21.9, mnist (ow 24) 7.67 vs 5.82, cifar (ow 32) 12.7 vs 7.1.
_SAMPLE_LAST_OW = 15
# layout for tests and measurements: None by the rules (depthwise, then the one above),
# "sample_last" or "depthwise" wherever it applies, "default" neither
FORCE_LAYOUT: str | None = None

# dx path for tests and measurements: None picks by the rule in _use_correlation,
# "correlation" forces it wherever W is finite, "col2im" never uses it.
FORCE_DX_PATH: str | None = None


def _matmul(A: np.ndarray, B: np.ndarray, out: np.ndarray, stacked: bool) -> None:
    """out (G, M, n, L) = A (G, M, K) @ B (G, K, n, L): one product per group over all n
    samples side by side (``stacked``: B and out must then be buffers), or one per sample."""
    if stacked:
        G, K, n, L = B.shape
        flat = out.reshape(G, -1, n * L)
        assert np.may_share_memory(flat, out), "out must be a buffer, not a view"
        np.matmul(A, B.reshape(G, K, n * L), out=flat)
    else:
        np.matmul(A, B.transpose(2, 0, 1, 3), out=out.transpose(2, 0, 1, 3))


def _as_columns(dout: np.ndarray, buf: np.ndarray, G: int) -> np.ndarray:
    """dout (n, FN, oh, ow) copied into ``buf`` in the column layout (G, FN/G, n, oh*ow)."""
    n, FN = dout.shape[:2]
    d = buf[: FN * n * dout[0, 0].size].reshape(G, FN // G, n, -1)
    d.reshape(FN, n, -1).transpose(1, 0, 2)[...] = dout.reshape(n, FN, -1)
    return d


def _conv_padding(pad, kernel, stride, dilation) -> tuple[int, int, int, int]:
    if isinstance(pad, str):
        if pad == "valid":
            return 0, 0, 0, 0
        if pad == "same":
            if stride != (1, 1):
                raise ValueError(f"pad='same' needs stride 1, got stride={stride}")
            th, tw = (d * (k - 1) for d, k in zip(dilation, kernel, strict=True))
            return th // 2, th - th // 2, tw // 2, tw - tw // 2
        raise ValueError(f"pad must be an int, a pair, 'valid' or 'same', got pad={pad!r}")
    return padding(pad, "pad")


class Convolution:
    """2-D convolution: ``W`` (FN, C/groups, FH, FW), ``b`` (FN,) or None."""

    def __init__(self, W, b, stride=1, pad=0, dilation=1, groups=1):
        weights(W, b, "(FN, C/groups, FH, FW)", out_axis=0)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"groups must be an int >= 1, got groups={groups!r}")
        if W.shape[0] % groups:
            raise ValueError(
                f"groups={groups} must divide the output channels, got W.shape[0]={W.shape[0]}"
            )
        self.W, self.b, self.groups = W, b, int(groups)
        self.stride = at_least(pair(stride, "stride"), 1, "stride")
        self.dilation = at_least(pair(dilation, "dilation"), 1, "dilation")
        self.pads = _conv_padding(pad, W.shape[2:], self.stride, self.dilation)
        self.pad = pad
        self.x = None
        self.col = None
        self.dW = None
        self.db = None
        self.pointwise = False  # 1x1 kernel, no padding: plain products (set by forward)
        # False: backward computes dW and db only and returns None (a network's first
        # layer, whose input needs no gradient, as PyTorch skips it for such an input)
        self.need_dx = True
        self.sample_last = False  # the sample-last layout (set by forward)
        self.depthwise = False  # one filter per channel, tap by tap (set by forward)
        self._bufs: dict[str, tuple[tuple, np.ndarray]] = {}
        self._plans: dict[tuple, Phases] = {}  # by geometry: the layer's and dx's phases

    def _plan(self, x: np.ndarray) -> Phases:
        _, Cg, FH, FW = self.W.shape
        _, C, H, W = x.shape
        if C != Cg * self.groups:
            raise ValueError(
                f"input channels C={C} do not match W.shape[1]*groups={Cg}*{self.groups}"
                f"={Cg * self.groups}"
            )
        key = (H, W, FH, FW)
        plan = self._plans.get(key)
        if plan is None:  # geometry only: kept, with what its methods work out once
            t, bt, l, r = self.pads
            oh = conv_output_size(H, FH, self.stride[0], t, bt, self.dilation[0], "height")
            ow = conv_output_size(W, FW, self.stride[1], l, r, self.dilation[1], "width")
            plan = Phases((H, W), (FH, FW), self.stride, self.dilation, self.pads, (oh, ow))
            self._plans[key] = plan
        return plan

    def _chunks(self, N: int, per_sample: int) -> list[tuple[int, int]]:
        """Sample ranges for backward, given the buffer elements one sample needs."""
        out_size = N * self.W.shape[0] * self.col.shape[3]
        room = int(_CHUNK_SHARE * (self.col.size + out_size)) // max(1, per_sample)
        step = max(1, min(N // 2, room))
        return [(n, min(n + step, N)) for n in range(0, N, step)]

    def _buffer(self, name: str, shape: tuple[int, ...], dtype, key=None, zero=False):
        """A work array kept between calls (fresh pages cost as much as the copy into them).

        ``zero``: a new array starts zeroed, and a kept one is reused only for the same
        ``key`` (the geometry whose zeros the callers rely on); otherwise it keeps old data.
        """
        want = (shape, np.dtype(dtype), key)
        kept = self._bufs.get(name)
        if kept is None or kept[0] != want:
            self._bufs.pop(name, None)  # freed before the new one is allocated
            kept = self._bufs[name] = (want, (np.zeros if zero else np.empty)(shape, dtype))
        return kept[1]

    def _weights(self) -> np.ndarray:
        """W as (G, FN/G, C/G*FH*FW), with the bias as one more column when there is one
        (the column matrix then has a row of ones, so the product adds it)."""
        G, FN = self.groups, self.W.shape[0]
        Wg = self.W.reshape(G, FN // G, -1)
        if self.b is None:
            return Wg
        return np.concatenate([Wg, self.b.reshape(G, FN // G, 1)], axis=2)

    @staticmethod
    def _stacked(K: int, step: int) -> bool:
        """Whether a chunk's samples share one product (columns of K rows, step samples)."""
        return K >= _STACK_K and step > 1

    @staticmethod
    def _product(Wm: np.ndarray, cols: np.ndarray, out: np.ndarray, tmp: np.ndarray | None,
                 stacked: bool) -> None:
        """out (n, G*M, h, w) = Wm (G, M, K) times cols (G, K, n, h*w), sample by sample.

        Stacked columns (one product for all n), or an out that is a strided view, go
        through ``tmp`` (at least G*M*n*h*w elements).
        """
        G, _, n, L = cols.shape
        M = Wm.shape[1]
        if stacked or not out.flags.c_contiguous:
            prod = tmp.reshape(-1)[: G * M * n * L].reshape(G, M, n, L)
            _matmul(Wm, cols, prod, stacked)
            out[...] = prod.reshape(G * M, n, *out.shape[2:]).transpose(1, 0, 2, 3)
        else:
            _matmul(Wm, cols, out.reshape(n, G, M, L).transpose(1, 2, 0, 3), False)

    def forward(self, x):
        float_array(x, "x")
        same_dtype(x, self.W, "x", "W")
        if x.ndim not in (3, 4):
            raise ValueError(f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got x.ndim={x.ndim}")
        self.unbatched = x.ndim == 3
        x4 = x[None] if self.unbatched else x
        self.grid = g = self._plan(x4)
        self.pointwise = g.kh == g.kw == 1 and not any(self.pads)
        if self.pointwise:
            out = self._forward_pointwise(x4)
            self.x = x
            return out[0] if self.unbatched else out
        self.depthwise = self._use_depthwise(g)
        self.sample_last = not self.depthwise and self._use_sample_last(x4.shape[0], g)
        if self.depthwise or self.sample_last:
            out = (self._forward_depthwise if self.depthwise else self._forward_sample_last)(x4)
            self.x = x
            return out[0] if self.unbatched else out
        N, C = x4.shape[:2]
        G, FN = self.groups, self.W.shape[0]
        K = C // G * g.kh * g.kw
        Wa = self._weights()
        K1 = Wa.shape[2]
        # im2col: per group, C/G*FH*FW rows (and a row of ones) of every sample's L columns
        # (kept: the elements that windows take from the padding stay zero)
        self.col = col = self._buffer("col", (G, K1, N, g.L), x.dtype, g.key, zero=True)
        self.x = x
        out = np.empty((N, FN, g.oh, g.ow), dtype=x.dtype)

        def samples(s0: int, s1: int) -> None:
            n = s1 - s0
            c = col[:, :, s0:s1]
            g.unfold(x4[s0:s1], c[:, :K].reshape(G, C // G, g.kh * g.kw, n, g.L)
                     .transpose(3, 0, 1, 2, 4))
            if self.b is not None:
                c[:, K] = 1
            stacked = self._stacked(K1, n)  # then the product goes through a temporary
            tmp = np.empty((G, FN // G, n * g.L), x.dtype) if stacked else None
            self._product(Wa, c, out[s0:s1], tmp, stacked)

        with blas_single():
            split(samples, N, N * K1 * g.L)
        return out[0] if self.unbatched else out

    def _use_depthwise(self, g: Phases) -> bool:
        """One filter per channel (groups = C = FN) at stride 1: tap by tap (see
        _forward_depthwise), no column matrix."""
        FN, Cg = self.W.shape[:2]
        if Cg != 1 or FN != self.groups or (g.sh, g.sw) != (1, 1):
            return False
        return FORCE_LAYOUT in (None, "depthwise")

    @staticmethod
    def _taps_view(a: np.ndarray, kernel: tuple[int, int], dil: tuple[int, int], N: int,
                   out_hw: tuple[int, int]) -> np.ndarray:
        """Read-only view (kh, kw, oh, ow*N) of a sample-last channel ``a`` (rows, cols*N):
        tap (i, j)'s windows, from row i*dh and column j*dw on."""
        (kh, kw), (dh, dw), (oh, ow) = kernel, dil, out_hw
        rs, it = a.strides[0], a.itemsize
        return as_strided(a, (kh, kw, oh, ow * N), (dh * rs, dw * N * it, rs, it),
                          writeable=False)

    def _forward_depthwise(self, x4: np.ndarray) -> np.ndarray:
        """Depthwise convolution, channel by channel, in the sample-last layout: output
        channel c, (oh, ow*N), is the taps' windows of the padded channel (Hp, Wp*N)
        weighted by W[c] and summed, one np.einsum over a strided view of the taps. An
        im2col matrix would have kh*kw rows per channel and one filter to multiply it by:
        copying it costs more than the products."""
        g, C = self.grid, x4.shape[1]
        N, dt = x4.shape[0], x4.dtype
        top, _, left, _ = self.pads
        Hp, Wp = g.H + self.pads[0] + self.pads[1], g.W + self.pads[2] + self.pads[3]
        xT = self._buffer("xT", (C, Hp, Wp * N), dt, (g.key, N), zero=True)  # pads stay 0
        self.col = None
        out = np.empty((N, C, g.oh, g.ow), dt)
        Wk = self.W.reshape(C, g.kh, g.kw)
        taps = ((g.kh, g.kw), (g.dh, g.dw), N, (g.oh, g.ow))

        def channels(c0: int, c1: int) -> None:
            acc = np.empty((g.oh, g.ow * N), dt)
            for c in range(c0, c1):
                xc = xT[c]
                xc.reshape(Hp, Wp, N)[top : top + g.H, left : left + g.W] = \
                    x4[:, c].transpose(1, 2, 0)
                np.einsum("ab,abij->ij", Wk[c], self._taps_view(xc, *taps), out=acc)
                if self.b is not None:
                    acc += self.b[c]
                out[:, c] = acc.reshape(g.oh, g.ow, N).transpose(2, 0, 1)

        split(channels, C, N * C * g.L * g.kh * g.kw)
        return out

    def _backward_depthwise(self, d4: np.ndarray) -> np.ndarray | None:
        """Channel by channel: db = dout summed; dW = dout times each tap's window of x,
        summed (one np.einsum); dx = dout padded by the kernel's extent, correlated with
        the flipped W (one np.einsum over its taps' windows), from x's place on."""
        g, C = self.grid, self.W.shape[0]
        N, dt = d4.shape[0], d4.dtype
        top, _, left, _ = self.pads
        e, f = (g.kh - 1) * g.dh, (g.kw - 1) * g.dw  # the kernel's extent
        xT = self._bufs["xT"][1]
        Wf = self.W.reshape(C, g.kh, g.kw)[:, ::-1, ::-1]
        dW = np.empty((C, g.kh, g.kw), dt)
        db = np.empty(C, dt)
        dx = np.empty((N, C, g.H, g.W), dt) if self.need_dx else None
        taps = ((g.kh, g.kw), (g.dh, g.dw), N)

        def channels(c0: int, c1: int) -> None:
            # dout of a channel inside zero borders e rows and f columns wide
            dpad = np.zeros((g.oh + 2 * e, (g.ow + 2 * f) * N), dt)
            dc = dpad[e : e + g.oh, f * N : (f + g.ow) * N]
            acc = np.empty((g.H, g.W * N), dt) if dx is not None else None
            for c in range(c0, c1):
                dc.reshape(g.oh, g.ow, N)[...] = d4[:, c].transpose(1, 2, 0)
                db[c] = dc.sum()
                np.einsum("ij,abij->ab", dc, self._taps_view(xT[c], *taps, (g.oh, g.ow)),
                          out=dW[c])
                if acc is not None:
                    # dx[y, x] = sum over taps of W[c, kh-1-i, kw-1-j] times
                    # dpad[y + top + i*dh, x + left + j*dw]
                    src = dpad[top:, left * N :]
                    np.einsum("ab,abij->ij", Wf[c],
                              self._taps_view(src, *taps, (g.H, g.W)), out=acc)
                    dx[:, c] = acc.reshape(g.H, g.W, N).transpose(2, 0, 1)

        split(channels, C, N * C * g.L * g.kh * g.kw)
        self.dW = dW.reshape(self.W.shape)
        self.db = None if self.b is None else db
        return dx

    def _use_sample_last(self, N: int, g: Phases) -> bool:
        if self.groups != 1 or (g.sh, g.sw) != (1, 1):
            return False
        if FORCE_LAYOUT is not None:
            return FORCE_LAYOUT == "sample_last"
        return g.ow <= _SAMPLE_LAST_OW and N >= 4

    def _forward_sample_last(self, x4: np.ndarray) -> np.ndarray:
        """Stride 1, one group, in the sample-last layout: x padded as (C, Hp, Wp, N), the
        column matrix (K, oh, ow, N). A tap's windows are then one copy whose runs are
        ow*N elements long (not ow), and the product is one (FN, K) @ (K, L*N) split by
        column ranges. Costs a transposed copy of x in and of the output out: it pays
        where outputs are narrow (see _SAMPLE_LAST_OW)."""
        g, FN = self.grid, self.W.shape[0]
        N, C = x4.shape[:2]
        dt, kk, L = x4.dtype, g.kh * g.kw, g.L
        top, _, left, _ = self.pads
        Hp, Wp = g.H + self.pads[0] + self.pads[1], g.W + self.pads[2] + self.pads[3]
        Wa = self._weights()[0]
        K, K1 = C * kk, Wa.shape[1]
        key = (g.key, N)
        xT = self._buffer("xT", (C, Hp, Wp, N), dt, key, zero=True)  # padding stays zero
        self.col = col = self._buffer("colT", (K1, g.oh, g.ow, N), dt)
        c5 = col[:K].reshape(C, kk, g.oh, g.ow, N)

        def channels(c0: int, c1: int) -> None:
            xT[c0:c1, top : top + g.H, left : left + g.W] = x4[:, c0:c1].transpose(1, 2, 3, 0)
            for i in range(g.kh):
                for j in range(g.kw):
                    r, c = i * g.dh, j * g.dw
                    c5[c0:c1, i * g.kw + j] = xT[c0:c1, r : r + g.oh, c : c + g.ow]

        col2d = col.reshape(K1, L * N)
        out = np.empty((N, FN, g.oh, g.ow), dt)
        o3 = out.reshape(N, FN, L)
        block = max(1, L // 8)  # output positions per product: its temporary stays small

        def columns(l0: int, l1: int) -> None:
            for a in range(l0, l1, block):
                b = min(l1, a + block)
                prod = np.matmul(Wa, col2d[:, a * N : b * N])
                o3[:, :, a:b] = prod.reshape(FN, b - a, N).transpose(2, 0, 1)

        with blas_single():
            if self.b is not None:
                col[K] = 1
            split(channels, C, K * L * N)
            split(columns, L, K1 * L * N)
        return out

    def _backward_sample_last(self, d4: np.ndarray) -> np.ndarray | None:
        """dW = doutᵀ @ colᵀ (one product, split by column ranges, summed in order), and dx
        by col2im in the sample-last layout, a few channels at a time: each tap's add runs
        over ow*N elements."""
        g, FN, col = self.grid, self.W.shape[0], self.col
        N, C = d4.shape[0], self.W.shape[1]
        dt, kk, L = d4.dtype, g.kh * g.kw, g.L
        top, _, left, _ = self.pads
        K, K1 = C * kk, col.shape[0]
        dT = np.empty((FN, g.oh, g.ow, N), dt)

        def filters(f0: int, f1: int) -> None:
            dT[f0:f1] = d4[:, f0:f1].transpose(1, 2, 3, 0)

        col2d, d2 = col.reshape(K1, L * N), dT.reshape(FN, L * N)
        parts = {}

        def columns(l0: int, l1: int) -> None:
            parts[l0] = np.matmul(d2[:, l0 * N : l1 * N], col2d[:, l0 * N : l1 * N].T)

        dx = None
        if self.need_dx:
            dx = np.empty((N, C, g.H, g.W), dt)
            buf = self._bufs["xT"][1]  # x's padded copy: free until the next forward
            WT = self.W.reshape(FN, K).T
            cb = max(1, min(C, int(_FOLD_SHARE * col.nbytes) // (kk * L * N * dt.itemsize)))

            def channels(c0: int, c1: int) -> None:
                dcol = np.empty((min(cb, c1 - c0) * kk, L * N), dt)
                for b0 in range(c0, c1, cb):
                    b1 = min(c1, b0 + cb)
                    dc = dcol[: (b1 - b0) * kk]
                    np.matmul(WT[b0 * kk : b1 * kk], d2, out=dc)
                    dc5 = dc.reshape(b1 - b0, kk, g.oh, g.ow, N)
                    bb = buf[b0:b1]
                    bb[...] = 0
                    for i in range(g.kh):
                        for j in range(g.kw):
                            r, c = i * g.dh, j * g.dw
                            win = bb[:, r : r + g.oh, c : c + g.ow]
                            win += dc5[:, i * g.kw + j]
                    dx[:, b0:b1] = bb[:, top : top + g.H, left : left + g.W].transpose(3, 0, 1, 2)
                    bb[...] = 0  # forward relies on the buffer's zero padding

        with blas_single():
            split(filters, FN, FN * L * N)
            split(columns, L, K1 * L * N)
            if dx is not None:
                split(channels, C, K * L * N)
        total = sum(parts[k] for k in sorted(parts))
        self.dW = np.ascontiguousarray(total[:, :K]).reshape(self.W.shape)
        self.db = None if self.b is None else total[:, K].copy()
        return dx

    def _pointwise_x(self, x4: np.ndarray) -> np.ndarray:
        """x's elements that a 1x1 kernel reads, as (N, G, C/G, oh*ow): a view at stride 1,
        a copy of every sh-th row and sw-th column otherwise."""
        g, G = self.grid, self.groups
        N, C = x4.shape[:2]
        xs = x4[:, :, : (g.oh - 1) * g.sh + 1 : g.sh, : (g.ow - 1) * g.sw + 1 : g.sw]
        return np.ascontiguousarray(xs).reshape(N, G, C // G, g.L)

    def _forward_pointwise(self, x4: np.ndarray) -> np.ndarray:
        """A 1x1 kernel without padding: out = W @ x per sample and group, no im2col."""
        g, G, FN = self.grid, self.groups, self.W.shape[0]
        N = x4.shape[0]
        self.col = None
        xg = self._pointwise_x(x4)
        Wg = self.W.reshape(G, FN // G, -1)
        out = np.empty((N, FN, g.oh, g.ow), dtype=x4.dtype)
        o4 = out.reshape(N, G, FN // G, g.L)

        def samples(s0: int, s1: int) -> None:
            np.matmul(Wg, xg[s0:s1], out=o4[s0:s1])
            if self.b is not None:
                o4[s0:s1] += self.b.reshape(G, FN // G, 1)

        with blas_single():
            split(samples, N, N * xg[0].size)
        return out

    def _backward_pointwise(self, d4: np.ndarray) -> np.ndarray:
        """dW = sum over samples of dout @ xᵀ, db = dout summed, dx = Wᵀ @ dout (placed on
        every sh-th row and sw-th column, zero elsewhere, at a stride above 1)."""
        g, G, FN = self.grid, self.groups, self.W.shape[0]
        x4 = self.x[None] if self.unbatched else self.x
        N, C = x4.shape[:2]
        xg = self._pointwise_x(x4)
        d = d4.reshape(N, G, FN // G, g.L)
        WgT = self.W.reshape(G, FN // G, -1).transpose(0, 2, 1)
        strided = (g.sh, g.sw) != (1, 1) or (g.oh, g.ow) != (g.H, g.W)
        dx = (np.zeros if strided else np.empty)((N, C, g.H, g.W), dtype=x4.dtype) \
            if self.need_dx else None
        parts = {}

        def samples(s0: int, s1: int) -> None:
            parts[s0] = np.matmul(d[s0:s1], xg[s0:s1].transpose(0, 1, 3, 2)).sum(axis=0)
            if dx is None:
                return
            dxs = np.matmul(WgT, d[s0:s1])  # (n, G, C/G, L)
            if strided:
                dx[s0:s1, :, : (g.oh - 1) * g.sh + 1 : g.sh, : (g.ow - 1) * g.sw + 1 : g.sw] = \
                    dxs.reshape(s1 - s0, C, g.oh, g.ow)
            else:
                dx[s0:s1] = dxs.reshape(s1 - s0, C, g.H, g.W)

        with blas_single():
            split(samples, N, N * (C + FN) * g.L)
        total = sum(parts[s0] for s0 in sorted(parts))
        self.dW = total.reshape(self.W.shape)
        self.db = None if self.b is None else d4.sum(axis=(0, 2, 3))
        return dx

    def _use_correlation(self, C: int) -> bool:
        """Whether dx is computed as correlations of dout (see _correlations).

        Their column matrices have FN*FH*FW rows against the C*FH*FW of col2im's dcol, at
        the same matrix-product cost, but are filled by copies where col2im adds (slower
        in NumPy), so they pay where FN <= C (measured, backward ms, 2 threads:
        (32,64,16,16) F=64 k3 p1 f32 13.4 -> 10.4, F=32 11.0 -> 6.5, F=96 15.0 -> 13.6
        but f64 a tie, F=128 17.8 -> 19.1; mnist (C=1, F=30) 4.9 -> 31).
        W must be finite: its products with dout's zero padding would be NaN otherwise.
        """
        if not np.isfinite(self.W).all():
            return False
        if FORCE_DX_PATH is not None:
            return FORCE_DX_PATH == "correlation"
        return self.W.shape[0] <= C

    def _correlations(self, d4: np.ndarray, C: int) -> list[tuple]:
        """dx as stride-1 convolutions of dout, one per phase of the input (layercheck.impl.phases).

        In phase p, x's element (u, v) of the phase grid gets
        sum over f and p's taps (i, j) of W[f, c, i, j] * dout[f, u - ri, v - rj],
        (ri, rj) being the tap's offset: a correlation of dout, padded (or cropped), with
        p's taps flipped. At stride 1 (one phase) that is dpad[f, y + d*i, x + d*j] times
        W[f, c, kh-1-i, kw-1-j], dpad being dout padded by d*(k-1) - pad on each side.
        Per part of x: (cropped dout, its plan, weights (G, C/G, FN/G*taps), part), with
        None for the first three where no tap reaches that part (its gradient is 0).
        """
        g, G, FN = self.grid, self.groups, self.W.shape[0]
        taps = {p: (r, c) for p, r, c, _ in g.tap_sets}
        plans = []
        for part in g.parts:
            p, u0, u1, v0, v1 = part[:5]
            if p not in taps:
                plans.append((None, None, None, part))
                continue
            (i0, pi, ri), (j0, pj, rj) = taps[p]
            rows, cols = range(i0, g.kh, pi), range(j0, g.kw, pj)
            r_first, c_first = i0 * g.dh // g.sh, j0 * g.dw // g.sw
            pads = (r_first + (len(rows) - 1) * ri - u0, u1 - r_first - g.oh,
                    c_first + (len(cols) - 1) * rj - v0, v1 - c_first - g.ow)
            top, bottom, left, right = (max(0, -a) for a in pads)
            dcrop = d4[:, :, top : g.oh - bottom, left : g.ow - right]
            if 0 in dcrop.shape[2:]:
                plans.append((None, None, None, part))
                continue
            key = (g.key, part)
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = Phases(
                    dcrop.shape[2:], (len(rows), len(cols)), (1, 1), (ri, rj),
                    tuple(max(0, a) for a in pads), (u1 - u0, v1 - v0))
            Wf = self.W[:, :, i0::pi, j0::pj][:, :, ::-1, ::-1]
            Wf = Wf.reshape(G, FN // G, C // G, len(rows), len(cols)).transpose(0, 2, 1, 3, 4)
            plans.append((dcrop, plan, np.ascontiguousarray(Wf).reshape(G, C // G, -1), part))
        return plans

    def _dx_by_correlation(self, d4: np.ndarray, dx: np.ndarray) -> None:
        """dx, chunk by chunk, as correlations of dout (see _correlations)."""
        g, G, FN = self.grid, self.groups, self.W.shape[0]
        N, C, Fg, dt = dx.shape[0], dx.shape[1], FN // G, dx.dtype
        plans = self._correlations(d4, C)
        live = [(p, w) for _, p, w, _ in plans if p is not None]
        chunks = self._chunks(N, sum(G * w.shape[2] * p.L + C * p.L for p, w in live))
        step = chunks[0][1]
        # per phase, columns of dout: kept, their padding stays zero
        ccols = [self._buffer(f"ccol{k}", (G, w.shape[2], step, p.L), dt, p.key, zero=True)
                 for k, (p, w) in enumerate(live)]
        tmp = self._buffer("dxprod", (max([C * step * p.L for p, _ in live], default=0),), dt)
        work = list(enumerate(plan for plan in plans if plan[1] is not None))
        zero = [plan for plan in plans if plan[1] is None]

        def part(s0: int, s1: int, i0: int) -> None:
            """Samples s0:s1, rows i0:i0+n of the chunk's buffers."""
            n = s1 - s0
            for k, (dcrop, cg, WfT, (_, u0, u1, v0, v1, r0, c0)) in work:
                out = dx[s0:s1, :, r0 :: g.sh, c0 :: g.sw][:, :, : u1 - u0, : v1 - v0]
                cc, K2 = ccols[k][:, :, i0 : i0 + n], WfT.shape[2]
                cg.unfold(dcrop[s0:s1],
                          cc.reshape(G, Fg, K2 // Fg, n, cg.L).transpose(3, 0, 1, 2, 4))
                self._product(WfT, cc, out, tmp[i0 * C * cg.L :], self._stacked(K2, n))

        for *_, (_, u0, u1, v0, v1, r0, c0) in zero:  # no tap reaches these
            dx[:, :, r0 :: g.sh, c0 :: g.sw][:, :, : u1 - u0, : v1 - v0] = 0
        per_sample = sum(c[:, :, 0].size for c in ccols)  # column elements
        for s0, s1 in chunks:
            split(lambda a, b, s0=s0: part(s0 + a, s0 + b, a), s1 - s0, (s1 - s0) * per_sample)

    def _dx_by_col2im(self, d4: np.ndarray, dx: np.ndarray) -> None:
        """dx, chunk by chunk: dcol = Wᵀ @ dout added back window by window (col2im), a few
        channels at a time so that their rows of dcol stay small."""
        g, G, FN = self.grid, self.groups, self.W.shape[0]
        (N, C), L, dt = dx.shape[:2], g.L, dx.dtype
        Fg, Cg, kk, K1 = FN // G, C // G, g.kh * g.kw, self.col.shape[1]
        per_sample = kk * L + math.prod(g.shape(1, C))
        may_stack = self._stacked(K1, 2)
        if may_stack:
            per_sample += FN * L
        chunks = self._chunks(N, per_sample)
        step = chunks[0][1]
        WgT = self.W.reshape(G, Fg, Cg * kk).transpose(0, 2, 1)
        cb = max(1, min(Cg, int(_FOLD_SHARE * self.col.nbytes) // (kk * step * L * dx.itemsize)))
        dcol = self._buffer("dcol", (1, cb * kk, step * L), dt)
        qg = self._buffer("qg", g.shape(step, C), dt)
        if may_stack:
            dL = self._buffer("dL", (step * FN * L,), dt)

        def part(s0: int, s1: int, i0: int) -> None:
            """Samples s0:s1, rows i0:i0+n of the chunk's buffers."""
            n = s1 - s0
            stacked = self._stacked(K1, n)
            if stacked:  # dout in the column layout (G, FN/G, n, L), in this part's room
                d = _as_columns(d4[s0:s1], dL[i0 * FN * L :], G)
            else:  # already so, sample by sample
                d = d4[s0:s1].reshape(n, G, Fg, L).transpose(1, 2, 0, 3)
            qn = qg[i0 : i0 + n]
            qn[...] = 0
            for gi in range(G):
                for c0 in range(0, Cg, cb):
                    c1 = min(Cg, c0 + cb)
                    dc = dcol[:, : (c1 - c0) * kk, i0 * L : (i0 + n) * L].reshape(1, -1, n, L)
                    _matmul(WgT[gi : gi + 1, c0 * kk : c1 * kk], d[gi : gi + 1], dc, stacked)
                    g.fold(qn[:, gi * Cg + c0 : gi * Cg + c1],
                           dc.reshape(1, c1 - c0, kk, n, L).transpose(3, 0, 1, 2, 4))
            g.gather(qn, dx[s0:s1])

        for s0, s1 in chunks:
            split(lambda a, b, s0=s0: part(s0 + a, s0 + b, a), s1 - s0, (s1 - s0) * kk * L * C)

    def backward(self, dout):
        if self.x is None:
            raise ValueError("backward called before forward (x is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.W, "dout", "W")
        if self.pointwise:
            d4 = dout[None] if self.unbatched else dout
            g = self.grid
            N = 1 if self.unbatched else self.x.shape[0]
            shape_is(d4, (N, self.W.shape[0], g.oh, g.ow), "dout")
            dx = self._backward_pointwise(d4)
            return dx if dx is None or not self.unbatched else dx[0]
        if self.sample_last or self.depthwise:
            d4 = dout[None] if self.unbatched else dout
            g = self.grid
            N = 1 if self.unbatched else self.x.shape[0]
            shape_is(d4, (N, self.W.shape[0], g.oh, g.ow), "dout")
            back = self._backward_depthwise if self.depthwise else self._backward_sample_last
            dx = back(d4)
            return dx if dx is None or not self.unbatched else dx[0]
        g, G, x, col = self.grid, self.groups, self.x, self.col
        d4 = dout[None] if self.unbatched else dout
        N, C = (x[None] if self.unbatched else x).shape[:2]
        FN, Cg, kk = self.W.shape[0], C // G, g.kh * g.kw
        Fg, K, K1 = FN // G, Cg * kk, col.shape[1]
        shape_is(d4, (N, FN, g.oh, g.ow), "dout")
        L, dt = g.L, x.dtype

        # dW, and db from the column matrix's row of ones: per part of the batch (a product
        # for each sample, or one for the part), summed in a fixed order
        parts = {}

        def add_dW(s0: int, s1: int) -> None:
            n, c = s1 - s0, col[:, :, s0:s1]
            if self._stacked(K1, n):  # dout as columns, times colᵀ
                d = _as_columns(d4[s0:s1], np.empty(FN * n * L, dt), G)
                parts[s0] = np.matmul(d.reshape(G, Fg, n * L),
                                      c.reshape(G, K1, n * L).transpose(0, 2, 1))
            else:
                d = d4[s0:s1].reshape(n, G, Fg, L)
                parts[s0] = np.matmul(d, c.transpose(2, 0, 3, 1)).sum(axis=0)

        dx = np.empty((N, C, g.H, g.W), dtype=dt) if self.need_dx else None
        with blas_single():
            split(add_dW, N, N * K1 * L)
            if not self.need_dx:
                pass
            elif self._use_correlation(C):
                self._dx_by_correlation(d4, dx)
            else:
                self._dx_by_col2im(d4, dx)
        total = sum(parts[s0] for s0 in sorted(parts))
        self.dW = np.ascontiguousarray(total[:, :, :K]).reshape(self.W.shape)
        self.db = None if self.b is None else total[:, :, -1].reshape(FN)
        if dx is None:
            return None
        return dx[0] if self.unbatched else dx
