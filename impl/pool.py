"""Max and average pooling with PyTorch ``MaxPool2d`` / ``AvgPool2d`` semantics.

Both loop over the kh*kw kernel offsets; each offset is one strided view of the padded
input (the im2col windows without the copy), so the work is a few passes of the output size.
"""

from __future__ import annotations

import numpy as np

from ._threads import split
from ._validate import at_least, float_array, pair, pooling_output_size, same_dtype, shape_is
from .im2col import Grid


def _first_valid(out, kernel, stride, pad, dilation):
    """Per output position, the first kernel offset that lands inside the input."""
    start = np.arange(out) * stride - pad
    return np.maximum(0, -(start // dilation))  # ceil(-start / dilation), at least 0


class _Pool:
    """Shared checks, output size and padded window views of the pooling layers."""

    def __init__(self, pool_h, pool_w, stride, pad, dilation, ceil_mode):
        self.kernel = at_least((pair(pool_h, "pool_h")[0], pair(pool_w, "pool_w")[0]), 1,
                               "kernel_size")
        self.stride = at_least(pair(stride, "stride"), 1, "stride")
        self.pad = at_least(pair(pad, "pad"), 0, "pad")
        self.dilation = at_least(pair(dilation, "dilation"), 1, "dilation")
        self.ceil_mode = bool(ceil_mode)
        for p, k in zip(self.pad, self.kernel, strict=True):
            if p > k // 2:
                raise ValueError(
                    f"pad should be at most half of kernel size, got pad={self.pad} "
                    f"with kernel_size={self.kernel}"
                )
        self.x = None

    def _grid(self, x: np.ndarray) -> Grid:
        float_array(x, "x")
        if x.ndim not in (3, 4):
            raise ValueError(f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got x.ndim={x.ndim}")
        H, W = x.shape[-2:]
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.pad, self.dilation
        # valid when PyTorch's output size is >= 1; with ceil_mode the kernel may be
        # larger than the padded input (the window runs past it)
        oh = pooling_output_size(H, kh, sh, ph, ph, dh, self.ceil_mode, "height")
        ow = pooling_output_size(W, kw, sw, pw, pw, dw, self.ceil_mode, "width")
        # ceil_mode windows may run past the right/bottom padding: pad further there
        bottom = max(ph, (oh - 1) * sh + dh * (kh - 1) + 1 - H - ph)
        right = max(pw, (ow - 1) * sw + dw * (kw - 1) + 1 - W - pw)
        return Grid((H, W), self.kernel, self.stride, self.dilation, (ph, bottom, pw, right),
                    (oh, ow))

    def _begin(self, x):
        self.grid = self._grid(x)
        self.x = x
        return x[None] if x.ndim == 3 else x

    def _dout(self, dout) -> np.ndarray:
        if self.x is None:
            raise ValueError("backward called before forward (x is None)")
        float_array(dout, "dout")
        same_dtype(dout, self.x, "dout", "x")
        g = self.grid
        shape_is(dout, (*self.x.shape[:-2], g.oh, g.ow), "dout")
        return dout[None] if self.x.ndim == 3 else dout

    def _end(self, a: np.ndarray) -> np.ndarray:
        return a[0] if self.x.ndim == 3 else a


class Pooling(_Pool):
    """Max pooling: -inf padding, gradient to the first maximum, NaN wins (last NaN)."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0, dilation=1, ceil_mode=False):
        super().__init__(pool_h, pool_w, stride, pad, dilation, ceil_mode)
        self.arg_max = None
        self._target = None
        self._bufs: dict[str, np.ndarray] = {}
        self._base_key = None

    def _buffer(self, name: str, shape: tuple[int, ...], dtype, fill=None) -> np.ndarray:
        """A work array kept between calls (fresh pages cost as much as the copy into them).

        ``fill``: the value a new array starts with; a reused one keeps its contents.
        """
        buf = self._bufs.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._bufs[name] = np.empty(shape, dtype)
            if fill is not None:
                buf.fill(fill)
        return buf

    def forward(self, x):
        x4 = self._begin(x)
        g = self.grid
        N, C = x4.shape[:2]
        NC, kk, M = N * C, g.kh * g.kw, g.oh * g.ow
        xs = x4.reshape(NC, 1, g.H, g.W)  # (sample, channel) planes, split over threads
        padded = (g.Hp, g.Wp) != (g.H, g.W)
        # the kept buffer's padding is -inf from its creation on: only x is copied in
        xpad = self._buffer("xpad", g.padded_shape(NC, 1), x.dtype, fill=-np.inf) if padded \
            else None
        # im2col with the kernel offset first: one contiguous run per offset and plane
        col = self._buffer("col", (g.kh, g.kw, NC, 1, g.oh, g.ow), x.dtype)
        # PyTorch's loop: start from the first in-input offset with -inf, then take an
        # offset when `val > max or isnan(val)`, in row-major kernel order. Offsets only
        # grow, so the index of the last taken offset is a running maximum of k*taken.
        r0 = _first_valid(g.oh, g.kh, g.sh, g.top, g.dh)
        c0 = _first_valid(g.ow, g.kw, g.sw, g.left, g.dw)
        idx_type = np.int8 if kk <= 127 else np.int32
        first = (r0[:, None] * g.kw + c0[None, :]).astype(idx_type).reshape(-1)
        arg = np.empty((NC, M), dtype=idx_type)
        out = np.empty((NC, M), dtype=x.dtype)
        nan_aware = bool(np.isnan(x.max())) if x.size else False
        # for backward: each window's maximum as a flat index into dx (the maximum is never
        # padding, so the padded position maps to an unpadded one by the same sums)
        offset = (np.arange(g.kh)[:, None] * (g.dh * g.W) + np.arange(g.kw) * g.dw).ravel()
        base = self._base(NC)
        target = np.empty((NC, M), dtype=np.intp)
        dead = self._dead_windows()

        def pool(lo: int, hi: int) -> None:
            src = g.pad(xs[lo:hi], out=xpad[lo:hi], borders=False) if padded else \
                np.ascontiguousarray(xs[lo:hi]).reshape(hi - lo, 1, -1)
            c = col[:, :, lo:hi]
            np.copyto(c, g.windows(src).transpose(2, 3, 0, 1, 4, 5))
            c = c.reshape(kk, -1)
            o, a = out[lo:hi].reshape(-1), arg[lo:hi]
            a[...] = first
            a = a.reshape(-1)
            o.fill(-np.inf)
            taken = np.empty(o.shape, dtype=bool)
            scratch = np.empty(o.shape, dtype=bool)
            k_taken = np.empty(o.shape, dtype=idx_type)
            for k in range(kk):
                np.greater(c[k], o, out=taken)
                if nan_aware:
                    taken |= np.isnan(c[k], out=scratch)
                np.maximum(c[k], o, out=o)  # values; zeros and NaNs are redone below
                np.multiply(taken, idx_type(k), out=k_taken)
                np.maximum(a, k_taken, out=a)
            # np.maximum may pick either zero of a -0.0/+0.0 tie, or either NaN: take
            # those from the window element the index names, as PyTorch does
            redo = (o == 0) | np.isnan(o) if nan_aware else o == 0
            redo = np.flatnonzero(redo)
            o[redo] = c[a[redo], redo]
            t = target[lo:hi].reshape(-1)
            np.take(offset, a, out=t, mode="wrap")  # a is in range: "wrap" skips the checks
            t += base[lo * M : hi * M]
            if dead is not None:  # windows wholly in the padding: their gradient is dropped
                target[lo:hi, dead] = NC * g.H * g.W  # (one element past dx's)

        split(pool, NC, col.size)
        self.arg_max = arg.reshape(-1)
        self._target = target
        return self._end(out.reshape(N, C, g.oh, g.ow))

    def _dead_windows(self) -> np.ndarray | None:
        """Flat indices (among oh*ow) of windows with no tap inside x, or None (usual).

        PyTorch accepts some (dilated windows that straddle a 1-pixel input: every tap in
        the padding); the maximum is then -inf padding, with no input element to credit."""
        g = self.grid

        def inside(out, k, s, d, pad, size):
            starts = np.arange(out)[:, None] * s - pad + np.arange(k) * d
            return ((starts >= 0) & (starts < size)).any(axis=1)

        live = np.outer(inside(g.oh, g.kh, g.sh, g.dh, g.top, g.H),
                        inside(g.ow, g.kw, g.sw, g.dw, g.left, g.W)).reshape(-1)
        return None if live.all() else np.flatnonzero(~live)

    def _base(self, NC: int) -> np.ndarray:
        """Flat index in dx of each window's kernel offset 0, which may lie in the padding
        (outside its plane); kept between calls with the same geometry."""
        g = self.grid
        key = (NC, g.H, g.W, g.oh, g.ow, g.sh, g.sw, g.top, g.left)
        kept = self._bufs.get("base")
        if kept is None or self._base_key != key:
            start = ((np.arange(g.oh)[:, None] * g.sh - g.top) * g.W
                     + np.arange(g.ow) * g.sw - g.left)
            kept = (np.arange(NC, dtype=np.intp)[:, None, None] * (g.H * g.W)
                    + start).reshape(-1)
            self._bufs["base"], self._base_key = kept, key
        return kept

    def backward(self, dout):
        """dx: each dout element added to its window's maximum, in output order from zero
        (np.add.at), as PyTorch's loop adds them: the same sums, bit for bit, at either
        dtype and wherever windows overlap (0 + -0.0 = +0.0, NaN and inf as PyTorch)."""
        d4 = self._dout(dout)
        g = self.grid
        N, C = d4.shape[:2]
        NC = N * C
        M = g.oh * g.ow
        d = d4.reshape(NC * M)
        plane = g.H * g.W
        flat = np.empty(NC * plane + 1, dtype=d4.dtype)  # + the dead windows' element
        dx = flat[:-1].reshape(NC, 1, g.H, g.W)
        target = self._target.reshape(-1)

        def scatter(lo: int, hi: int) -> None:
            flat[lo * plane : hi * plane] = 0
            with np.errstate(invalid="ignore"):  # inf + -inf is NaN, as in PyTorch
                np.add.at(flat, target[lo * M : hi * M], d[lo * M : hi * M])

        flat[-1] = 0
        split(scatter, NC, NC * plane)
        return self._end(dx.reshape(N, C, g.H, g.W))


class AvgPooling(_Pool):
    """Average pooling with PyTorch's divisor rules (count_include_pad, divisor_override)."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(pool_h, pool_w, stride, pad, 1, ceil_mode)
        if divisor_override is not None and (
            not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0
        ):
            raise ValueError(
                f"divisor_override must be a non-zero int or None, got "
                f"divisor_override={divisor_override!r}"
            )
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def _divisor(self, dtype) -> np.ndarray:
        """(oh, ow) divisors, as in PyTorch's AvgPoolKernel.cpp."""
        g = self.grid
        if self.divisor_override is not None:
            return np.full((g.oh, g.ow), self.divisor_override, dtype=dtype)

        def extent(out, k, s, p, size):
            start = np.arange(out) * s - p
            end = np.minimum(start + k, size + p)
            pool = end - start  # counts padding, not what lies past it (ceil_mode)
            inside = np.minimum(end, size) - np.maximum(start, 0)
            return pool, inside

        ph, ih = extent(g.oh, g.kh, g.sh, g.top, g.H)
        pw, iw = extent(g.ow, g.kw, g.sw, g.left, g.W)
        div = np.outer(ph, pw) if self.count_include_pad else np.outer(ih, iw)
        return div.astype(dtype)

    def forward(self, x):
        x4 = self._begin(x)
        g = self.grid
        win = g.windows(g.pad(x4, 0))
        acc = np.zeros((*x4.shape[:2], g.oh, g.ow), dtype=x.dtype)
        for i in range(g.kh):
            for j in range(g.kw):
                acc += win[:, :, i, j]
        acc /= self._divisor(x.dtype)
        return self._end(acc)

    def backward(self, dout):
        d4 = self._dout(dout)
        g = self.grid
        share = d4 / self._divisor(d4.dtype)
        buf = g.zeros(*d4.shape[:2], d4.dtype)
        win = g.windows(buf, writeable=True)
        for i in range(g.kh):
            for j in range(g.kw):
                win[:, :, i, j] += share
        return self._end(g.crop(buf))
