"""Where a convolution's kernel taps read their input: im2col from x, col2im into phases.

im2col (:meth:`Phases.unfold`) copies, tap by tap, the part of the tap's windows that
lies inside x straight into the column matrix; the rest is padding, zero in a kept buffer.

col2im (:meth:`Phases.fold`) adds columns back into a padded buffer split into phases.
A stride-(sh, sw) window reads padded-input row ``y*sh + i*dh``. Split the padded input
into ``sh*sw`` phases (rows a, a+sh, ...; columns b, b+sw, ...) and that row becomes row
``y + (i*dh)//sh`` of phase ``((i*dh) % sh, (j*dw) % sw)``: inside its phase every kernel
tap (i, j) is a stride-1 window at one fixed offset into the phase, stored as a flat row,
so all the taps of a phase are one strided view. With stride 1 there is a single phase:
the zero-padded input itself. The phases also split dx into the stride-1 correlations of
Convolution's other dx path.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _progression(phase: int, k: int, d: int, s: int) -> tuple[int, int, int] | None:
    """Kernel rows i < k with (i*d) % s == phase, as (first, step, offset step), or None."""
    first = next((i for i in range(k) if i * d % s == phase), None)
    if first is None:
        return None
    step = s // math.gcd(d, s)
    return first, step, step * d // s


def _count(prog: tuple[int, int, int], k: int) -> int:
    return len(range(prog[0], k, prog[1]))


def _rows(a: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """View of ``a`` with its last axis split into (oh, ow); never a copy."""
    v = a.reshape(*a.shape[:-1], oh, ow)
    assert np.may_share_memory(v, a), "reshape copied: writes would be lost"
    return v


class Phases:
    """Where the taps of a convolution sit in the phase buffer ``(N, C, sh*sw, S)``."""

    def __init__(self, in_hw, kernel, stride, dilation, pads, out_hw):
        self.H, self.W = in_hw
        self.kh, self.kw = kernel
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.pads = pads
        self.oh, self.ow = out_hw
        top, bottom, left, right = pads
        self.Hq = _ceil_div(self.H + top + bottom, self.sh)
        self.Wq = _ceil_div(self.W + left + right, self.sw)
        self.L = self.oh * self.ow
        # The taps of one phase: rows i0, i0+pi, ..., columns j0, j0+pj, ..., at offsets
        # o0 + m*(ri*Wq) + n*rj; per phase (phase, (i0, pi, ri), (j0, pj, rj), o0).
        rows = [_progression(a, self.kh, self.dh, self.sh) for a in range(self.sh)]
        cols = [_progression(b, self.kw, self.dw, self.sw) for b in range(self.sw)]
        self.tap_sets = [
            (a * self.sw + b, r, c, r[0] * self.dh // self.sh * self.Wq + c[0] * self.dw // self.sw)
            for a, r in enumerate(rows) if r for b, c in enumerate(cols) if c
        ]
        last = max(o0 + (_count(r, self.kh) - 1) * r[2] * self.Wq + (_count(c, self.kw) - 1) * c[2]
                   for _, r, c, o0 in self.tap_sets)
        last += (self.oh - 1) * self.Wq + self.ow
        assert last <= self.Hq * self.Wq, "a window reaches past its phase"
        self.S = self.Hq * self.Wq
        # per phase: (phase, its rows u0:u1 and columns v0:v1 that hold x, from x's row r0
        # and column c0 on, every sh-th row and sw-th column)
        self.parts = []
        for a in range(self.sh):
            u0, u1 = max(0, _ceil_div(top - a, self.sh)), _ceil_div(top + self.H - a, self.sh)
            for b in range(self.sw):
                v0, v1 = max(0, _ceil_div(left - b, self.sw)), _ceil_div(left + self.W - b,
                                                                          self.sw)
                if u1 > u0 and v1 > v0:
                    self.parts.append((a * self.sw + b, u0, u1, v0, v1,
                                       a + self.sh * u0 - top, b + self.sw * v0 - left))
        self.key = (self.H, self.W, kernel, stride, dilation, pads, out_hw)

    def shape(self, N: int, C: int) -> tuple[int, int, int, int]:
        """Shape of a phase buffer for N samples of C channels."""
        return N, C, self.sh * self.sw, self.S

    def _x_and_phase(self, buf: np.ndarray, x: np.ndarray, part):
        p, u0, u1, v0, v1, r0, c0 = part
        N, C = buf.shape[:2]
        img = buf[:, :, p, : self.Hq * self.Wq].reshape(N, C, self.Hq, self.Wq)
        xs = x[:, :, r0 :: self.sh, c0 :: self.sw][:, :, : u1 - u0, : v1 - v0]
        return xs, img[:, :, u0:u1, v0:v1]

    def gather(self, buf: np.ndarray, dx: np.ndarray) -> None:
        """Copy x's places in the phase buffer ``buf`` into ``dx`` (dropping the padding)."""
        for part in self.parts:
            dxs, ph = self._x_and_phase(buf, dx, part)
            dxs[...] = ph

    def _taps(self, buf: np.ndarray, cols: np.ndarray):
        """Per phase: a writeable view of its taps' window elements in ``buf`` and the
        matching view of ``cols`` (N, G, C/G, kh*kw, L), both shaped
        (N, G, C/G, taps down, taps across, oh, ow).
        """
        N, G, Cg = cols.shape[:3]
        c6 = cols.reshape(N, G, Cg, self.kh, self.kw, self.L)
        sn, sc, it = buf.strides[0], buf.strides[1], buf.itemsize
        for p, (i0, pi, ri), (j0, pj, rj), o0 in self.tap_sets:
            dst = _rows(c6[:, :, :, i0::pi, j0::pj], self.oh, self.ow)
            src = as_strided(buf[:, :, p, o0:], dst.shape,
                             (sn, sc * Cg, sc, ri * self.Wq * it, rj * it, self.Wq * it, it),
                             writeable=True)
            yield src, dst

    @staticmethod
    def _inside(i: int, d: int, s: int, pad: int, size: int, out: int) -> tuple[int, int, int]:
        """Along one axis: the outputs y0:y1 whose tap i reads inside x, and x's index
        that output y0 reads."""
        y0 = min(out, max(0, _ceil_div(pad - i * d, s)))
        y1 = max(y0, min(out, _ceil_div(size + pad - i * d, s)))
        return y0, y1, y0 * s + i * d - pad

    def unfold(self, x: np.ndarray, cols: np.ndarray) -> None:
        """im2col straight from x: ``cols`` (N, G, C/G, kh*kw, L) gets, tap by tap, the
        part of its windows inside x. Parts in the padding are not written: in a kept
        buffer that started zeroed they stay zero."""
        N, G, Cg = cols.shape[:3]
        c6 = _rows(cols, self.oh, self.ow)
        xg = x.reshape(N, G, Cg, self.H, self.W)
        for tap, rows, cols_, src_rows, src_cols in self._unfold_taps():
            np.copyto(c6[:, :, :, tap, rows, cols_], xg[:, :, :, src_rows, src_cols])

    def _unfold_taps(self) -> list[tuple[int, slice, slice, slice, slice]]:
        """Per tap whose windows reach inside x: (tap, output rows, output columns, x's
        rows, x's columns) as slices; worked out once per geometry."""
        taps = getattr(self, "_taps_inside", None)
        if taps is None:
            taps = []
            top, _, left, _ = self.pads
            for i in range(self.kh):
                y0, y1, r0 = self._inside(i, self.dh, self.sh, top, self.H, self.oh)
                for j in range(self.kw):
                    x0, x1, c0 = self._inside(j, self.dw, self.sw, left, self.W, self.ow)
                    if y1 > y0 and x1 > x0:
                        taps.append((i * self.kw + j, slice(y0, y1), slice(x0, x1),
                                     slice(r0, r0 + (y1 - y0 - 1) * self.sh + 1, self.sh),
                                     slice(c0, c0 + (x1 - x0 - 1) * self.sw + 1, self.sw)))
            self._taps_inside = taps
        return taps

    def fold(self, buf: np.ndarray, cols: np.ndarray) -> None:
        """col2im: add ``cols`` (N, G, C/G, kh*kw, L) into ``buf``; overlaps accumulate.

        One add per tap: the windows of a phase's taps overlap, and an add into a view that
        overlaps itself would keep one of the sums, not all of them.
        """
        for win, c in self._taps(buf, cols):
            for i in range(win.shape[3]):
                for j in range(win.shape[4]):
                    win[:, :, :, i, j] += c[:, :, :, i, j]
