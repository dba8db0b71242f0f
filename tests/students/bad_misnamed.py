# ruff: noqa  (student code, kept as students write it)
"""Right code under a name no alias covers: Convolve (did you mean Convolution?)."""
import good_im2col as g


class Convolve(g.Convolution):
    pass


class Relu(g.Relu):
    pass
