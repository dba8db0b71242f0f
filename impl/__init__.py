"""The project's own NumPy CNN layers, matching PyTorch CPU semantics."""

from .conv import Convolution
from .convnet import LeNet, SimpleConvNet
from .gradient import numerical_gradient
from .im2col import col2im, im2col
from .layers import Affine, Relu, SoftmaxWithLoss, log_softmax
from .pool import AvgPooling, Pooling

__all__ = [
    "Affine",
    "AvgPooling",
    "Convolution",
    "LeNet",
    "Pooling",
    "Relu",
    "SimpleConvNet",
    "SoftmaxWithLoss",
    "col2im",
    "im2col",
    "log_softmax",
    "numerical_gradient",
]
