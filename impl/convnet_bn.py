"""SimpleConvNet with batch normalization, built from the impl layers.

conv - BN - relu - pool - affine - BN - relu - affine - softmax. The convolution's batch
norm is per channel (SpatialBatchNormalization, nn.BatchNorm2d's statistics) by default,
or the notes' BatchNormalization flattened per sample (one statistic per channel and
pixel) with ``spatial=False``; the hidden layer's is the notes' BatchNormalization.
Parameters are named as the notes' extended nets do: W1, b1, gamma1, beta1, W2, ...
Running statistics follow the notes (momentum 0.9, biased variance, zeros at the start).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .conv import Convolution
from .convnet import DEFAULT_CONV_PARAM, Rng, _conv_out, _conv_param, _ModeNet, _pooled
from .layers import Affine, Relu, SoftmaxWithLoss
from .norm import BatchNormalization, SpatialBatchNormalization
from .pool import Pooling


class SimpleConvNetBN(_ModeNet):
    """SimpleConvNet with batch norm after the convolution and the hidden affine layer.

    Same arguments as SimpleConvNet, plus ``momentum`` (the notes' 0.9) and ``spatial``.
    predict/loss take train_flg (default False: running statistics); gradient trains.
    """

    def __init__(self, input_dim: tuple[int, int, int] = (1, 28, 28),
                 conv_param: Mapping = DEFAULT_CONV_PARAM, hidden_size: int = 100,
                 output_size: int = 10, weight_init_std: float | str = "he",
                 momentum: float = 0.9, spatial: bool = True, rng: Rng = None,
                 dtype=np.float64):
        self._init(rng, dtype)
        p = self.conv_param = _conv_param(conv_param)
        C, H, W = input_dim
        self.input_dim = (C, H, W)
        fn, fs = p["filter_num"], p["filter_size"]
        oh, ow = _conv_out(H, p, "height"), _conv_out(W, p, "width")
        pool_output_size = fn * _pooled(oh, "conv output height") * _pooled(ow,
                                                                            "conv output width")
        self._weights(1, (fn, C, fs, fs), weight_init_std, C * fs * fs, "Conv1")
        self._weights(2, (pool_output_size, hidden_size), weight_init_std, pool_output_size,
                      "Affine1")
        self._weights(3, (hidden_size, output_size), weight_init_std, hidden_size, "Affine2")
        self._norm(1, fn if spatial else fn * oh * ow, "BatchNorm1")
        self._norm(2, hidden_size, "BatchNorm2")
        P = self.params
        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(P["W1"], P["b1"], p["stride"], p["pad"])
        norm = SpatialBatchNormalization if spatial else BatchNormalization
        self.layers["BatchNorm1"] = norm(P["gamma1"], P["beta1"], momentum)
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(P["W2"], P["b2"])
        self.layers["BatchNorm2"] = BatchNormalization(P["gamma2"], P["beta2"], momentum)
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(P["W3"], P["b3"])
        self.last_layer = SoftmaxWithLoss()

    def _norm(self, idx: int, size: int, layer: str) -> None:
        """gamma (ones) and beta (zeros) of one batch-norm layer."""
        self.params[f"gamma{idx}"] = np.ones(size, dtype=self.dtype)
        self.params[f"beta{idx}"] = np.zeros(size, dtype=self.dtype)
        self.owners[f"gamma{idx}"] = (layer, "gamma")
        self.owners[f"beta{idx}"] = (layer, "beta")
