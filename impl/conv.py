"""Convolution layer (PyTorch ``conv2d`` semantics) built on im2col and matrix products."""

from __future__ import annotations

import numpy as np

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

# Samples are processed in chunks whose column block is at most about this many bytes
# (and at most 1/8 of the batch), so the temporaries of one chunk stay small next to the
# column matrix.
_CHUNK_BYTES = 1 << 22


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
        grid = Grid((H, W), (FH, FW), self.stride, self.dilation, self.pads, (oh, ow))
        # stride 1 and finite values: compute whole padded rows (contiguous runs, cheaper
        # copies and folds); the garbage columns are 0 * finite = 0 in the gradients.
        if self.stride == (1, 1) and np.isfinite(self.W).all() and np.isfinite(x.max()):
            grid = Grid((H, W), (FH, FW), self.stride, self.dilation, self.pads, (oh, ow),
                        row_len=grid.Wp)
        return grid

    def _chunks(self, N: int):
        per_sample = self.col[0].nbytes
        step = max(1, min(_CHUNK_BYTES // per_sample, N // 8))
        return [(n, min(n + step, N)) for n in range(0, N, step)]

    def forward(self, x):
        float_array(x, "x")
        same_dtype(x, self.W, "x", "W")
        if x.ndim not in (3, 4):
            raise ValueError(f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got x.ndim={x.ndim}")
        self.unbatched = x.ndim == 3
        x4 = x[None] if self.unbatched else x
        self.grid = g = self._grid(x4)
        N = x4.shape[0]
        G = self.groups
        FN = self.W.shape[0]
        # im2col, one matrix (C/G*FH*FW, oh*q) per sample and group
        self.col = np.ascontiguousarray(g.windows(g.pad(x4))).reshape(N, G, -1, g.oh * g.q)
        self.x = x
        Wg = self.W.reshape(G, FN // G, -1)
        out = np.empty((N, FN, g.oh, g.ow), dtype=x.dtype)
        for n0, n1 in self._chunks(N):
            part = np.matmul(Wg, self.col[n0:n1])  # (n, G, FN/G, oh*q)
            part = part.reshape(n1 - n0, FN, g.oh, g.q)[..., : g.ow]
            if self.b is None:
                out[n0:n1] = part
            else:
                np.add(part, self.b[:, None, None], out=out[n0:n1])
        return out[0] if self.unbatched else out

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
        dbuf = g.zeros(N, C, x.dtype)
        dW = np.zeros_like(Wg)
        for n0, n1 in self._chunks(N):
            # dout for these samples in the column layout (n, FN, oh, q), garbage columns 0
            if g.q == g.ow:
                part = d4[n0:n1].reshape(n1 - n0, G, FN // G, -1)
            else:
                part = np.zeros((n1 - n0, FN, g.oh, g.q), dtype=x.dtype)
                part[..., : g.ow] = d4[n0:n1]
                part = part.reshape(n1 - n0, G, FN // G, -1)
            dW += np.matmul(part, self.col[n0:n1].transpose(0, 1, 3, 2)).sum(axis=0)
            dcol = np.matmul(WgT, part).reshape(n1 - n0, C, g.kh, g.kw, g.oh, g.q)
            g.fold(dbuf[n0:n1], dcol)  # col2im
        self.dW = dW.reshape(self.W.shape)
        self.db = None if self.b is None else d4.reshape(N, FN, -1).sum(axis=2).sum(axis=0)
        dx = g.crop(dbuf)
        return dx[0] if self.unbatched else dx
