"""im2col / col2im: unfold sliding windows into columns and fold them back.

The layers work on a padded copy of the input stored as one flat row per channel,
``(N, C, Hp*Wp)``. A window position (kernel offset i, j; output row oh,
column ow) is then a fixed stride away from the channel start, so every window of every
sample is one ``as_strided`` view and the column matrix is a single copy of it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._validate import conv_output_size, padding, pair


class Grid:
    """Where the windows of a sliding-kernel layer sit in a padded, flattened input."""

    def __init__(self, in_hw, kernel, stride, dilation, pads, out_hw):
        self.H, self.W = in_hw
        self.kh, self.kw = kernel
        self.sh, self.sw = stride
        self.dh, self.dw = dilation
        self.top, self.bottom, self.left, self.right = pads
        self.oh, self.ow = out_hw
        self.Hp = self.H + self.top + self.bottom
        self.Wp = self.W + self.left + self.right

    def padded_shape(self, N: int, C: int) -> tuple[int, int, int]:
        """Shape of the flat padded buffers: ``(N, C, Hp*Wp)``."""
        return N, C, self.Hp * self.Wp

    def pad(self, x: np.ndarray, value=0, out: np.ndarray | None = None,
            borders: bool = True) -> np.ndarray:
        """Return x padded with ``value`` as a ``(N, C, Hp*Wp)`` array.

        Written into ``out`` when given, else into a new array; ``borders=False`` copies
        only x, for an ``out`` whose padding already holds ``value``.
        """
        N, C = x.shape[:2]
        buf = np.empty(self.padded_shape(N, C), dtype=x.dtype) if out is None else out
        img = self.image(buf)
        if borders and (self.top or self.bottom or self.left or self.right):
            img[:, :, : self.top] = value
            img[:, :, self.top + self.H :] = value
            img[:, :, self.top : self.top + self.H, : self.left] = value
            img[:, :, self.top : self.top + self.H, self.left + self.W :] = value
        img[:, :, self.top : self.top + self.H, self.left : self.left + self.W] = x
        return buf

    def zeros(self, N: int, C: int, dtype) -> np.ndarray:
        """A zero buffer shaped like :meth:`pad`'s result, to fold gradients into."""
        return np.zeros(self.padded_shape(N, C), dtype=dtype)

    def image(self, buf: np.ndarray) -> np.ndarray:
        """The ``(N, C, Hp, Wp)`` image inside a padded buffer (a view)."""
        N, C = buf.shape[:2]
        return buf[:, :, : self.Hp * self.Wp].reshape(N, C, self.Hp, self.Wp)

    def crop(self, buf: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The unpadded ``(N, C, H, W)`` part of a buffer, copied into ``out`` or a new array."""
        img = self.image(buf)
        inner = img[:, :, self.top : self.top + self.H, self.left : self.left + self.W]
        if out is None:
            return np.ascontiguousarray(inner)
        out[...] = inner
        return out

    def windows(self, buf: np.ndarray, writeable: bool = False) -> np.ndarray:
        """View ``(N, C, kh, kw, oh, ow)`` of every window element of a padded buffer."""
        N, C = buf.shape[:2]
        sn, sc, it = buf.strides[0], buf.strides[1], buf.strides[2]
        assert it == buf.itemsize
        shape = (N, C, self.kh, self.kw, self.oh, self.ow)
        strides = (sn, sc, self.dh * self.Wp * it, self.dw * it, self.sh * self.Wp * it,
                   self.sw * it)
        return as_strided(buf, shape, strides, writeable=writeable)

    def fold(self, buf: np.ndarray, cols: np.ndarray) -> None:
        """col2im: add ``cols`` (viewable as ``(N, C, kh, kw, oh, ow)``) into ``buf``.

        One strided add per kernel offset; windows that overlap accumulate.
        """
        win = self.windows(buf, writeable=True)
        for i in range(self.kh):
            for j in range(self.kw):
                win[:, :, i, j] += cols[:, :, i, j]


def _grid(input_shape, filter_h, filter_w, stride, pad, dilation) -> Grid:
    if len(input_shape) != 4:
        raise ValueError(f"input must be 4-D (N, C, H, W), got input shape={tuple(input_shape)}")
    kernel = pair(filter_h, "filter_h")[0], pair(filter_w, "filter_w")[0]
    stride, dilation, pads = pair(stride, "stride"), pair(dilation, "dilation"), padding(pad)
    for name, v in (("filter_h", kernel[0]), ("filter_w", kernel[1])):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={v}")
    for name, v in (("stride", stride), ("dilation", dilation)):
        if min(v) < 1:
            raise ValueError(f"{name} must be >= 1, got {name}={v}")
    H, W = input_shape[2:]
    out = (
        conv_output_size(H, kernel[0], stride[0], pads[0], pads[1], dilation[0], "height"),
        conv_output_size(W, kernel[1], stride[1], pads[2], pads[3], dilation[1], "width"),
    )
    return Grid((H, W), kernel, stride, dilation, pads, out)


def im2col(input_data, filter_h, filter_w, stride=1, pad=0, dilation=1) -> np.ndarray:
    """Unfold (N, C, H, W) into columns of shape (N*out_h*out_w, C*filter_h*filter_w).

    Row ``(n*out_h + y)*out_w + x`` holds the window of sample n at output (y, x), in
    (channel, kernel row, kernel column) order, as in the notes; the dtype is kept.
    """
    x = np.asarray(input_data)
    g = _grid(x.shape, filter_h, filter_w, stride, pad, dilation)
    N, C = x.shape[:2]
    win = g.windows(g.pad(x))  # (N, C, kh, kw, oh, ow)
    return win.transpose(0, 4, 5, 1, 2, 3).reshape(N * g.oh * g.ow, C * g.kh * g.kw)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0, dilation=1) -> np.ndarray:
    """Fold columns from :func:`im2col` back to ``input_shape``, summing overlaps."""
    col = np.asarray(col)
    g = _grid(tuple(input_shape), filter_h, filter_w, stride, pad, dilation)
    N, C = input_shape[:2]
    expected = (N * g.oh * g.ow, C * g.kh * g.kw)
    if col.shape != expected:
        raise ValueError(f"col must have shape {expected}, got col.shape={col.shape}")
    cols = col.reshape(N, g.oh, g.ow, C, g.kh, g.kw).transpose(0, 3, 4, 5, 1, 2)
    buf = g.zeros(N, C, col.dtype)
    g.fold(buf, cols)
    return g.crop(buf)
