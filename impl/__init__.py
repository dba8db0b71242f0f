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
from .optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop, adam, rmsprop, sgd, sgd_momentum
from .pool import AvgPooling, Pooling

__all__ = [
    "LRN",
    "SGD",
    "AdaGrad",
    "Adam",
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
    "Momentum",
    "Nesterov",
    "Pooling",
    "RMSprop",
    "Relu",
    "SVMLoss",
    "Sigmoid",
    "SimpleConvNet",
    "SimpleConvNetBN",
    "SoftmaxWithLoss",
    "SpatialBatchNormalization",
    "adam",
    "col2im",
    "im2col",
    "log_softmax",
    "numerical_gradient",
    "rmsprop",
    "sgd",
    "sgd_momentum",
]
