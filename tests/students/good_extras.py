# ruff: noqa  (student code, kept as students write it)
"""Correct: the project's layers behind classes whose __init__ takes PyTorch's extras."""
import impl


class Convolution(impl.Convolution):
    def __init__(self, W, b, stride=1, pad=0, dilation=1, groups=1):
        super().__init__(W, b, stride, pad, dilation, groups)


class Pooling(impl.Pooling):
    def __init__(self, pool_h, pool_w, stride=1, pad=0, dilation=1, ceil_mode=False):
        super().__init__(pool_h, pool_w, stride, pad, dilation, ceil_mode)
