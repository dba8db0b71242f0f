# ruff: noqa  (student code, kept as students write it)
"""Wrong: col2im crops the padded image at the wrong offset (img[:, :, :H, :W] instead of
img[:, :, pad:H + pad, pad:W + pad]), so with padding dx is wrong everywhere; not a '+='."""
import numpy as np
from good_im2col import *  # noqa: F403
from good_im2col import Convolution as _Convolution


def col2im_cropped_wrong(col, shape, fh, fw, stride=1, pad=0):
    N, C, H, W = shape
    oh = (H + 2 * pad - fh) // stride + 1
    ow = (W + 2 * pad - fw) // stride + 1
    col = col.reshape(N, oh, ow, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(fh):
        for xx in range(fw):
            img[:, :, y:y + stride * oh:stride, xx:xx + stride * ow:stride] += col[:, :, y, xx]
    return img[:, :, :H, :W]


class Convolution(_Convolution):
    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).transpose(1, 0).reshape(FN, C, FH, FW)
        dcol = dout @ self.col_W.T
        return col2im_cropped_wrong(dcol, self.x.shape, FH, FW, self.stride, self.pad)
