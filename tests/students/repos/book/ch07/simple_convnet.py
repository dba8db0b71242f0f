# ruff: noqa  (student code, kept as students write it)
"""A chapter script in the book's layout: it reaches common/ through sys.path and a star
import (fixture: graded from the chapter file, the layers come from common.layers)."""
import os
import sys

sys.path.append(os.pardir)
from collections import OrderedDict

from common.layers import *


class SimpleConvNet:
    def __init__(self, W1, b1, W2, b2):
        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(W1, b1, 1, 0)
        self.layers["Relu1"] = Relu()
        self.layers["Affine1"] = Affine(W2, b2)
        self.last_layer = SoftmaxWithLoss()
