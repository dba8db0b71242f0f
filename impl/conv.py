"""Convolution layer (PyTorch ``conv2d`` semantics) built on im2col and matrix products."""

from __future__ import annotations

import numpy as np

from ._threads import split
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
from .im2col import Grid

# Per-sample matrix products smaller than this many multiply-adds gain little from BLAS's
# threads, so the samples of a chunk are split over Python threads instead (measured here:
# 2 cores, OpenBLAS); larger ones are left to BLAS, whose busy threads would contend.
_SMALL_PRODUCT = 4_000_000

# Samples are processed in chunks whose column block is at most about this many bytes
# (and at most 1/8 of the batch), so the temporaries of one chunk stay small next to the
# column matrix.
_CHUNK_BYTES = 1 << 22

# dx path for tests and measurements: None picks by the rule in _use_correlation,
# "correlation" forces it wherever it applies (stride 1), "col2im" never uses it.
FORCE_DX_PATH: str | None = None


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
        self._bufs: dict[str, np.ndarray] = {}
        self._qkey: tuple | None = None  # geometry of the zero borders in _bufs["qpad"]

    def _grid(self, x: np.ndarray) -> Grid:
        _, Cg, FH, FW = self.W.shape
        _, C, H, W = x.shape
        if C != Cg * self.groups:
            raise ValueError(
                f"input channels C={C} do not match W.shape[1]*groups={Cg}*{self.groups}"
                f"={Cg * self.groups}"
            )
        t, bt, l, r = self.pads
        oh = conv_output_size(H, FH, self.stride[0], t, bt, self.dilation[0], "height")
        ow = conv_output_size(W, FW, self.stride[1], l, r, self.dilation[1], "width")
        # Output rows are computed at their own width. "Wide rows" (whole padded rows, so
        # that each copy is one contiguous run) were tried: the extra columns cost more in
        # the matrix products than the simpler copies saved (geomean impl GFLOP/s +10%
        # without them; 2 threads, this machine).
        return Grid((H, W), (FH, FW), self.stride, self.dilation, self.pads, (oh, ow))

    def _chunks(self, N: int):
        per_sample = self.col[0].nbytes
        step = max(1, min(_CHUNK_BYTES // per_sample, N // 8))
        return [(n, min(n + step, N)) for n in range(0, N, step)]

    def _work(self, n: int) -> int:
        """Elements a chunk of n samples touches, or 0 to keep it on one thread (the
        products are large enough for BLAS's own threads)."""
        _, G, K, L = self.col.shape
        return n * K * L * G if self.W.shape[0] // G * K * L < _SMALL_PRODUCT else 0

    def _buffer(self, name: str, shape: tuple[int, ...], dtype, zero: bool = False):
        """A work array kept between calls (fresh pages cost as much as the copy into them).

        ``zero``: a new array starts zeroed; a reused one keeps its old contents.
        """
        buf = self._bufs.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            self._bufs.pop(name, None)
            buf = self._bufs[name] = (np.zeros if zero else np.empty)(shape, dtype)
        return buf

    def forward(self, x):
        float_array(x, "x")
        same_dtype(x, self.W, "x", "W")
        if x.ndim not in (3, 4):
            raise ValueError(f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got x.ndim={x.ndim}")
        self.unbatched = x.ndim == 3
        x4 = x[None] if self.unbatched else x
        self.grid = g = self._grid(x4)
        N, C = x4.shape[:2]
        G = self.groups
        FN = self.W.shape[0]
        # im2col, one matrix (C/G*FH*FW, oh*ow) per sample and group
        self.col = col = self._buffer("col", (N, G, C // G * g.kh * g.kw, g.oh * g.ow), x.dtype)
        self.x = x
        Wg = self.W.reshape(G, FN // G, -1)
        out = np.empty((N, FN, g.oh, g.ow), dtype=x.dtype)
        chunks = self._chunks(N)
        step = chunks[0][1]
        xpad = np.empty(g.padded_shape(step, C), dtype=x.dtype)  # padded input, per chunk

        def samples(i0: int, i1: int, n0: int) -> None:
            """Chunk rows i0:i1, which are samples n0+i0 : n0+i1."""
            s0, s1 = n0 + i0, n0 + i1
            g.pad(x4[s0:s1], out=xpad[i0:i1])
            np.copyto(col[s0:s1].reshape(i1 - i0, C, g.kh, g.kw, g.oh, g.ow),
                      g.windows(xpad[i0:i1]))
            # the product lands in out directly
            part = out[s0:s1].reshape(i1 - i0, G, FN // G, -1)
            np.matmul(Wg, col[s0:s1], out=part)
            if self.b is not None:  # on contiguous (oh*ow) rows: fast inner loops
                part.reshape(i1 - i0, FN, -1)[...] += self.b[:, None]

        for n0, n1 in chunks:
            split(lambda i0, i1, n0=n0: samples(i0, i1, n0), n1 - n0, self._work(n1 - n0))
        return out[0] if self.unbatched else out

    def _use_correlation(self, C: int) -> bool:
        """Whether dx is computed as a correlation of dout (stride 1 only).

        Its column matrix has FN*FH*FW rows against the C*FH*FW of col2im's dcol, at the
        same matrix-product cost, so it pays where FN <= C (measured, backward ms, 2 threads:
        (32,64,16,16) F=64 k3 p1 f32 13.4 -> 10.4, F=32 11.0 -> 6.5, F=96 15.0 -> 13.6
        but f64 a tie, F=128 17.8 -> 19.1; mnist (C=1, F=30) 4.9 -> 31).
        """
        if FORCE_DX_PATH is not None:
            return FORCE_DX_PATH == "correlation" and self.stride == (1, 1)
        return self.stride == (1, 1) and self.W.shape[0] <= C

    def _correlation(self, FN: int, C: int, dtype, step: int):
        """Buffers for dx as a correlation of zero-padded dout with the flipped,
        channel-transposed W, or None where the col2im path is used.

        dx[c, y, x] = sum over f, i, j of dpad[f, y + d*i, x + d*j] * W[f, c, kh-1-i, kw-1-j],
        dpad being dout padded by d*(k-1) - pad on each side (cropped where negative).
        """
        if not self._use_correlation(C):
            return None
        g, G = self.grid, self.groups
        want = [d * (k - 1) - p for d, k, p in zip(
            (g.dh, g.dh, g.dw, g.dw), (g.kh, g.kh, g.kw, g.kw), self.pads, strict=True)]
        cg = Grid((g.oh, g.ow), (g.kh, g.kw), (1, 1), (g.dh, g.dw),
                  tuple(max(0, p) for p in want), (g.H, g.W))
        offset = max(0, -want[0]) * cg.Wp + max(0, -want[2])  # the cropped rows, columns
        key = (g.oh, g.ow, g.H, g.W, tuple(want))
        if self._qkey != key:  # a new geometry: fresh zeroed padding
            self._bufs.pop("qpad", None)
            self._qkey = key
        qpad = self._buffer("qpad", cg.padded_shape(step, FN), dtype, zero=True)
        ccol = self._buffer("ccol", (step, FN * g.kh * g.kw, g.H * g.W), dtype)
        Cg = C // G
        Wf = self.W[:, :, ::-1, ::-1].reshape(G, FN // G, Cg, g.kh, g.kw)
        WfT = np.ascontiguousarray(Wf.transpose(0, 2, 1, 3, 4)).reshape(G, Cg, -1)
        return cg, qpad, ccol, offset, WfT

    def backward(self, dout):
        if self.x is None:
            raise ValueError("backward called before forward (x is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.W, "dout", "W")
        g, G, x = self.grid, self.groups, self.x
        d4 = dout[None] if self.unbatched else dout
        N, C = (x[None] if self.unbatched else x).shape[:2]
        FN = self.W.shape[0]
        shape_is(d4, (N, FN, g.oh, g.ow), "dout")
        Wg = self.W.reshape(G, FN // G, -1)
        WgT = Wg.transpose(0, 2, 1)
        dx = np.empty((N, C, g.H, g.W), dtype=x.dtype)
        dW = np.zeros_like(Wg)
        chunks = self._chunks(N)
        step = chunks[0][1]
        corr = self._correlation(FN, C, x.dtype, step)
        if corr is None:
            dcol = self._buffer("dcol", (step, *self.col.shape[1:]), x.dtype)
            dpad = self._buffer("dpad", g.padded_shape(step, C), x.dtype)  # padded dx
        parts = {}  # dW per thread part, summed in a fixed order below

        def dW_part(i0: int, s0: int, s1: int) -> np.ndarray:
            """Add samples s0:s1's dW to thread part i0; return their dout, column layout."""
            part = d4[s0:s1].reshape(s1 - s0, G, FN // G, -1)
            dWp = np.matmul(part, self.col[s0:s1].transpose(0, 1, 3, 2)).sum(axis=0)
            parts[i0] = dWp if i0 not in parts else parts[i0] + dWp
            return part

        def samples(i0: int, i1: int, n0: int) -> None:
            """Chunk rows i0:i1, which are samples n0+i0 : n0+i1."""
            s0, s1, n = n0 + i0, n0 + i1, i1 - i0
            part = dW_part(i0, s0, s1)
            np.matmul(WgT, part, out=dcol[i0:i1])
            dpad[i0:i1].fill(0)
            g.fold(dpad[i0:i1], dcol[i0:i1].reshape(n, C, g.kh, g.kw, g.oh, g.ow))  # col2im
            g.crop(dpad[i0:i1], out=dx[s0:s1])

        def samples_corr(i0: int, i1: int, n0: int) -> None:
            """Chunk rows i0:i1: dW as above, dx as a correlation of padded dout."""
            s0, s1, n = n0 + i0, n0 + i1, i1 - i0
            dW_part(i0, s0, s1)
            cg, qpad, ccol, offset, WfT = corr
            cg.pad(d4[s0:s1], out=qpad[i0:i1], borders=False)  # borders stay zero
            np.copyto(ccol[i0:i1].reshape(n, FN, g.kh, g.kw, g.H, g.W),
                      cg.windows(qpad[i0:i1, :, offset:]))
            np.matmul(WfT, ccol[i0:i1].reshape(n, G, -1, g.H * g.W),
                      out=dx[s0:s1].reshape(n, G, C // G, -1))

        fn = samples if corr is None else samples_corr
        for n0, n1 in chunks:
            split(lambda i0, i1, n0=n0: fn(i0, i1, n0), n1 - n0, self._work(n1 - n0))
        for i0 in sorted(parts):
            dW += parts[i0]
        self.dW = dW.reshape(self.W.shape)
        self.db = None if self.b is None else d4.reshape(N, FN, -1).sum(axis=2).sum(axis=0)
        return dx[0] if self.unbatched else dx
