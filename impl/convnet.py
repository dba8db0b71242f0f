"""The notes' SimpleConvNet and a LeNet-style variant, built from the impl layers.

Fixes to the notes' code, API kept: integer output sizes (the notes compute the pooled
size from a float and truncate the product), non-square inputs, accuracy counts the last
partial batch, load_params checks names, shapes and dtypes and relinks every layer.
Added after the notes' arguments: ``rng`` (a seed or numpy Generator) and ``dtype``.
"""

from __future__ import annotations

import inspect
import itertools
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from .conv import Convolution
from .gradient import numerical_gradient
from .layers import Affine, Relu, SoftmaxWithLoss
from .pool import AvgPooling, Pooling

DEFAULT_CONV_PARAM = MappingProxyType({"filter_num": 30, "filter_size": 5, "pad": 0,
                                       "stride": 1})
LENET_CONV_PARAMS = (
    MappingProxyType({"filter_num": 6, "filter_size": 5, "pad": 2, "stride": 1}),
    MappingProxyType({"filter_num": 16, "filter_size": 5, "pad": 0, "stride": 1}),
)

Rng = int | np.random.Generator | None


class Sigmoid:
    """1 / (1 + exp(-x)); gradient dout * (1 - out) * out (the notes' layer)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x gives 0
            self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        if self.out is None:
            raise ValueError("backward called before forward (out is None)")
        return dout * (1 - self.out) * self.out


def _conv_param(conv_param: Mapping) -> dict:
    unknown = set(conv_param) - set(DEFAULT_CONV_PARAM)
    if unknown:
        raise ValueError(f"conv_param has unknown keys {sorted(unknown)}; "
                         f"expected {sorted(DEFAULT_CONV_PARAM)}")
    p = {**DEFAULT_CONV_PARAM, **conv_param}
    for k, v in p.items():
        least = 0 if k == "pad" else 1
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < least:
            raise ValueError(f"conv_param[{k!r}] must be an int >= {least}, got {v!r}")
    return p


def _conv_out(size: int, p: dict, what: str) -> int:
    out = (size + 2 * p["pad"] - p["filter_size"]) // p["stride"] + 1
    if out < 1:
        raise ValueError(f"filter_size={p['filter_size']} with pad={p['pad']} does not fit "
                         f"the input {what} {size}")
    return out


def _pooled(size: int, what: str) -> int:
    if size < 2:
        raise ValueError(f"2x2 pooling needs a {what} >= 2, got {size}")
    return size // 2


def _std(weight_init_std: float | str, fan_in: int) -> float:
    """A float as is; 'relu'/'he' -> sqrt(2/fan_in); 'sigmoid'/'xavier' -> sqrt(1/fan_in)."""
    if isinstance(weight_init_std, str):
        key = weight_init_std.lower()
        if key in ("relu", "he"):
            return float(np.sqrt(2.0 / fan_in))
        if key in ("sigmoid", "xavier"):
            return float(np.sqrt(1.0 / fan_in))
        raise ValueError(f"weight_init_std must be a number, 'he' or 'xavier', "
                         f"got {weight_init_std!r}")
    return float(weight_init_std)


class _Net:
    """predict / loss / accuracy / gradients / save / load shared by the networks."""

    params: dict[str, np.ndarray]
    layers: OrderedDict
    last_layer: SoftmaxWithLoss
    # param name -> (layer name, attribute): 'W1' -> ('Conv1', 'W')
    owners: dict[str, tuple[str, str]]

    def _init(self, rng: Rng, dtype) -> None:
        self.rng = np.random.default_rng(rng)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.params = {}
        self.owners = {}

    def _weights(self, idx: int, shape: tuple[int, ...], std: float | str, fan_in: int,
                 layer: str) -> None:
        s = _std(std, fan_in)
        self.params[f"W{idx}"] = (s * self.rng.standard_normal(shape)).astype(self.dtype)
        self.params[f"b{idx}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1],
                                          dtype=self.dtype)
        self.owners[f"W{idx}"] = (layer, "W")
        self.owners[f"b{idx}"] = (layer, "b")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores (logits) for a batch x of shape (N, C, H, W)."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Mean cross-entropy of softmax(predict(x)) against labels or one-hot t."""
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> float:
        """Share of samples whose largest score is the label; every sample counts."""
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        if len(x) == 0:
            raise ValueError("accuracy of an empty batch")
        hits = 0
        for i in range(0, x.shape[0], batch_size):
            y = self.predict(x[i:i + batch_size])
            hits += int(np.sum(np.argmax(y, axis=1) == t[i:i + batch_size]))
        return hits / x.shape[0]

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the loss by central differences, one parameter element at a time."""
        def loss_w(_w):
            return self.loss(x, t)
        return {k: numerical_gradient(loss_w, self.params[k]) for k in self.params}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the loss by backpropagation."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return {k: getattr(self.layers[ln], "d" + attr) for k, (ln, attr) in self.owners.items()}

    def save_params(self, file_name: str = "params.pkl") -> None:
        """Pickle the params dict (exact values, dtypes kept)."""
        with open(file_name, "wb") as f:
            pickle.dump(dict(self.params), f)

    def load_params(self, file_name: str = "params.pkl") -> None:
        """Load params saved by save_params (trusted files only: pickle) and relink layers."""
        with open(file_name, "rb") as f:
            params = pickle.load(f)
        if not isinstance(params, dict) or set(params) != set(self.params):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"{file_name}: expected params {sorted(self.params)}, got {got}")
        for k, v in params.items():
            old = self.params[k]
            if not isinstance(v, np.ndarray) or v.shape != old.shape or v.dtype != old.dtype:
                desc = (f"{v.dtype}{v.shape}" if isinstance(v, np.ndarray)
                        else type(v).__name__)
                raise ValueError(f"{file_name}: {k} must be {old.dtype}{old.shape}, got {desc}")
        for k, v in params.items():
            self.params[k] = v
            layer, attr = self.owners[k]
            setattr(self.layers[layer], attr, v)


class _ModeNet(_Net):
    """A net with train/test-mode layers (dropout, batch norm), as the notes' extended nets.

    predict and loss take ``train_flg`` (default False: test mode) and pass it to every
    layer whose forward takes it; gradient runs the loss in training mode.
    """

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Scores (logits) for a batch x; train_flg selects training or test mode."""
        for layer in self.layers.values():
            x = layer.forward(x, train_flg) if _modal(layer) else layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """Mean cross-entropy of softmax(predict(x, train_flg)) against t."""
        return self.last_layer.forward(self.predict(x, train_flg), t)

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Central differences of the training-mode loss (running statistics restored after;
        dropout draws new masks at every evaluation, so check with dropout_ratio=0)."""
        saved = {name: {k: getattr(layer, k) for k in ("running_mean", "running_var")}
                 for name, layer in self.layers.items() if hasattr(layer, "running_mean")}

        def loss_w(_w):
            return self.loss(x, t, train_flg=True)
        try:
            return {k: numerical_gradient(loss_w, self.params[k]) for k in self.params}
        finally:
            for name, stats in saved.items():
                for k, v in stats.items():
                    setattr(self.layers[name], k, v)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the training-mode loss by backpropagation."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return {k: getattr(self.layers[ln], "d" + attr) for k, (ln, attr) in self.owners.items()}


def _modal(layer) -> bool:
    """Whether a layer's forward takes train_flg."""
    return "train_flg" in inspect.signature(layer.forward).parameters


class SimpleConvNet(_Net):
    """conv - relu - pool - affine - relu - affine - softmax (the notes' network).

    input_dim: (C, H, W); conv_param: filter_num, filter_size, pad, stride;
    weight_init_std: a float, or 'he' / 'xavier'; rng: seed or Generator for the init.
    """

    def __init__(self, input_dim: tuple[int, int, int] = (1, 28, 28),
                 conv_param: Mapping = DEFAULT_CONV_PARAM, hidden_size: int = 100,
                 output_size: int = 10, weight_init_std: float | str = 0.01,
                 rng: Rng = None, dtype=np.float64):
        self._init(rng, dtype)
        p = self.conv_param = _conv_param(conv_param)
        C, H, W = input_dim
        self.input_dim = (C, H, W)
        fn, fs = p["filter_num"], p["filter_size"]
        ph = _pooled(_conv_out(H, p, "height"), "conv output height")
        pw = _pooled(_conv_out(W, p, "width"), "conv output width")
        pool_output_size = fn * ph * pw
        self._weights(1, (fn, C, fs, fs), weight_init_std, C * fs * fs, "Conv1")
        self._weights(2, (pool_output_size, hidden_size), weight_init_std, pool_output_size,
                      "Affine1")
        self._weights(3, (hidden_size, output_size), weight_init_std, hidden_size, "Affine2")
        P = self.params
        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(P["W1"], P["b1"], p["stride"], p["pad"])
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(P["W2"], P["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(P["W3"], P["b3"])
        self.last_layer = SoftmaxWithLoss()


class LeNet(_Net):
    """LeNet-style: (conv - sigmoid - avgpool) x2 - (affine - sigmoid) x2 - affine - softmax.

    Sigmoid activations and 2x2 average-pool subsampling, as the notes describe LeNet.
    """

    def __init__(self, input_dim: tuple[int, int, int] = (1, 28, 28),
                 conv_params: tuple[Mapping, Mapping] = LENET_CONV_PARAMS,
                 hidden_sizes: tuple[int, int] = (120, 84), output_size: int = 10,
                 weight_init_std: float | str = "xavier", rng: Rng = None,
                 dtype=np.float64):
        self._init(rng, dtype)
        self.layers = OrderedDict()
        C, H, W = input_dim
        self.input_dim = (C, H, W)
        self.conv_params = tuple(_conv_param(p) for p in conv_params)
        for i, p in enumerate(self.conv_params, start=1):
            fn, fs = p["filter_num"], p["filter_size"]
            self._weights(i, (fn, C, fs, fs), weight_init_std, C * fs * fs, f"Conv{i}")
            H = _pooled(_conv_out(H, p, "height"), "conv output height")
            W = _pooled(_conv_out(W, p, "width"), "conv output width")
            C = fn
            self.layers[f"Conv{i}"] = Convolution(self.params[f"W{i}"], self.params[f"b{i}"],
                                                  p["stride"], p["pad"])
            self.layers[f"Sigmoid{i}"] = Sigmoid()
            self.layers[f"Pool{i}"] = AvgPooling(pool_h=2, pool_w=2, stride=2)
        sizes = [C * H * W, *hidden_sizes, output_size]
        first = len(self.conv_params) + 1
        for j, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            idx = first + j
            name = f"Affine{j + 1}"
            self._weights(idx, (n_in, n_out), weight_init_std, n_in, name)
            self.layers[name] = Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            if j < len(sizes) - 2:
                self.layers[f"Sigmoid{len(self.conv_params) + j + 1}"] = Sigmoid()
        self.last_layer = SoftmaxWithLoss()
