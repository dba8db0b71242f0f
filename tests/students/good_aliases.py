# ruff: noqa  (student code, kept as students write it)
"""Right, under other names: ConvolutionLayer, MaxPooling, AffineLayer, ReLU and
SoftmaxWithLossLayer (aliases the checker recognises; the canonical names are absent)."""
import good_im2col as g


class ConvolutionLayer(g.Convolution):
    pass


class MaxPooling(g.Pooling):
    pass


class AffineLayer(g.Affine):
    pass


class ReLU(g.Relu):
    pass


class SoftmaxWithLossLayer(g.SoftmaxWithLoss):
    pass
