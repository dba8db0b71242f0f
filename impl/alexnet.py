"""An AlexNet-style network scaled down to 3x32x32 input, built from the impl layers.

(conv - relu - LRN - maxpool) x2 - (conv - relu) x3 - maxpool - (affine - relu - dropout) x2
- affine - softmax. As in AlexNet: 5x5 then 3x3 kernels, overlapping 3x3 max pooling with
stride 2, local response normalization after the first two convolutions, dropout in the
two hidden fully connected layers. With 32x32 input the maps are 32 -> 15 -> 7 -> 3.

The dropout masks come from ``mask_rng`` (a seed or numpy Generator shared by both
dropout layers): the mask source. Each training forward stores its mask in the layer
(``layers['Dropout1'].mask``), which is what a twin copies to use the same masks.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from .conv import Convolution
from .convnet import Rng, _ModeNet
from .dropout import Dropout
from .layers import Affine, Relu, SoftmaxWithLoss
from .lrn import LRN
from .pool import Pooling

ALEXNET_LRN = MappingProxyType({"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0})
# (filter_size, pad) of the five convolutions; every stride is 1
ALEXNET_KERNELS = ((5, 2), (5, 2), (3, 1), (3, 1), (3, 1))
POOL_AFTER = (1, 2, 5)  # convolutions followed by 3x3 stride-2 max pooling


def _pool_out(size: int, what: str) -> int:
    if size < 3:
        raise ValueError(f"{what}: 3x3 pooling needs a map of at least 3x3, got {size} "
                         f"(input too small)")
    return (size - 3) // 2 + 1


class AlexNet(_ModeNet):
    """AlexNet-style network; predict/loss take train_flg, gradient trains.

    conv_channels: filters of the five convolutions; hidden_sizes: the two dropout layers'
    widths; lrn: LRN's size, alpha, beta, k (nn.LocalResponseNorm's meaning);
    dropout_ratio: the notes' drop probability; rng seeds the weights, mask_rng the masks.
    """

    def __init__(self, input_dim: tuple[int, int, int] = (3, 32, 32),
                 conv_channels: Sequence[int] = (16, 32, 48, 48, 32),
                 hidden_sizes: Sequence[int] = (128, 128), output_size: int = 10,
                 lrn: Mapping = ALEXNET_LRN, dropout_ratio: float = 0.5,
                 weight_init_std: float | str = "he", rng: Rng = None,
                 mask_rng: Rng = None, dtype=np.float64):
        self._init(rng, dtype)
        if len(conv_channels) != 5 or len(hidden_sizes) != 2:
            raise ValueError(f"AlexNet takes 5 conv_channels and 2 hidden_sizes, got "
                             f"{tuple(conv_channels)} and {tuple(hidden_sizes)}")
        unknown = set(lrn) - set(ALEXNET_LRN)
        if unknown:
            raise ValueError(f"lrn has unknown keys {sorted(unknown)}; "
                             f"expected {sorted(ALEXNET_LRN)}")
        self.lrn = {**ALEXNET_LRN, **lrn}
        self.mask_rng = np.random.default_rng(mask_rng)
        C, H, W = input_dim
        self.input_dim = (C, H, W)
        self.layers = OrderedDict()
        for i, (fn, (fs, pad)) in enumerate(zip(conv_channels, ALEXNET_KERNELS, strict=True),
                                            start=1):
            self._weights(i, (fn, C, fs, fs), weight_init_std, C * fs * fs, f"Conv{i}")
            self.layers[f"Conv{i}"] = Convolution(self.params[f"W{i}"], self.params[f"b{i}"],
                                                  1, pad)
            self.layers[f"Relu{i}"] = Relu()
            H, W, C = H + 2 * pad - fs + 1, W + 2 * pad - fs + 1, fn
            if i <= 2:
                self.layers[f"LRN{i}"] = LRN(**self.lrn)
            if i in POOL_AFTER:
                j = POOL_AFTER.index(i) + 1
                self.layers[f"Pool{j}"] = Pooling(pool_h=3, pool_w=3, stride=2)
                H, W = _pool_out(H, f"Pool{j} height"), _pool_out(W, f"Pool{j} width")
        sizes = [C * H * W, *hidden_sizes, output_size]
        for j, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
            idx = len(conv_channels) + j
            self._weights(idx, (n_in, n_out), weight_init_std, n_in, f"Affine{j}")
            self.layers[f"Affine{j}"] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            if j < len(sizes) - 1:
                self.layers[f"Relu{len(conv_channels) + j}"] = Relu()
                self.layers[f"Dropout{j}"] = Dropout(dropout_ratio, rng=self.mask_rng)
        self.last_layer = SoftmaxWithLoss()


__all__ = ["ALEXNET_LRN", "AlexNet"]
