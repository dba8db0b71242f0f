"""The project's own NumPy CNN layers, matching PyTorch CPU semantics."""

from .activations import Sigmoid
from .alexnet import AlexNet
from .conv import Convolution
from .convnet import LeNet, SimpleConvNet
from .convnet_bn import SimpleConvNetBN
from .dropout import Dropout, InvertedDropout
from .gradient import numerical_gradient
from .im2col import col2im, im2col
from .layers import Affine, Relu, SoftmaxWithLoss, log_softmax
from .losses import SVMLoss
from .lrn import LRN
from .norm import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    SpatialBatchNormalization,
)
from .pool import AvgPooling, Pooling

__all__ = [
    "LRN",
    "Affine",
    "AlexNet",
    "AvgPooling",
    "BatchNormalization",
    "Convolution",
    "Dropout",
    "GroupNormalization",
    "InvertedDropout",
    "LayerNormalization",
    "LeNet",
    "Pooling",
    "Relu",
    "SVMLoss",
    "Sigmoid",
    "SimpleConvNet",
    "SimpleConvNetBN",
    "SoftmaxWithLoss",
    "SpatialBatchNormalization",
    "col2im",
    "im2col",
    "log_softmax",
    "numerical_gradient",
]
