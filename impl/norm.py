"""Batch, layer and group normalization (the notes' and CS231n's definitions, PyTorch math).

Every layer normalises ``x`` over some axes: ``xn = (x - mean) / sqrt(var + eps)`` with the
biased variance, then ``out = gamma * xn + beta`` per feature or channel. Backward is the
closed form ``dx = (dxn - mean(dxn) - xn * mean(dxn * xn)) / std`` with ``dxn = gamma *
dout`` and the means over the same axes.

Running statistics follow the curricula: ``running = momentum * running + (1 - momentum) *
batch`` with momentum 0.9 (PyTorch's ``momentum=0.1``), the biased batch variance
(PyTorch keeps the unbiased one), zeros when not given (PyTorch starts the variance at ones).
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array, same_dtype, shape_is


def _param(a, name: str, size: int, dtype) -> np.ndarray:
    """gamma or beta as a flat array of `size` values in x's dtype (any shape of that size)."""
    float_array(a, name)
    if a.size != size:
        raise ValueError(f"{name} must hold {size} values (one per feature/channel), "
                         f"got {name}.shape={a.shape}")
    if a.dtype != dtype:
        raise ValueError(f"{name}.dtype={a.dtype} differs from x.dtype={dtype} "
                         f"(no silent casts)")
    return a.reshape(-1)


def normalize(x: np.ndarray, axes: tuple[int, ...], eps: float):
    """(xc, var, std, xn) over `axes`: two-pass mean and biased variance."""
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
    std = np.sqrt(var + x.dtype.type(eps))
    return mu, var, std, xc / std


def normalize_backward(dxn: np.ndarray, xn: np.ndarray, std: np.ndarray,
                       axes: tuple[int, ...]) -> np.ndarray:
    """dx of xn = (x - mean(x)) / sqrt(var(x) + eps) over `axes`, given dL/dxn."""
    return (dxn - dxn.mean(axis=axes, keepdims=True)
            - xn * (dxn * xn).mean(axis=axes, keepdims=True)) / std


class _Normalization:
    """Shared state and backward for the normalisations: gamma, beta, dgamma, dbeta."""

    def __init__(self, gamma, beta, eps: float):
        float_array(gamma, "gamma")
        float_array(beta, "beta")
        same_dtype(beta, gamma, "beta", "gamma")
        if gamma.size != beta.size:
            raise ValueError(f"gamma and beta must have the same size, got "
                             f"gamma.shape={gamma.shape}, beta.shape={beta.shape}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got eps={eps!r}")
        self.gamma, self.beta, self.eps = gamma, beta, eps
        self.dgamma = self.dbeta = None
        self.xn = self.std = self.input_shape = None
        self.train = True

    def _shape(self, x: np.ndarray, channels: int) -> tuple[int, ...]:
        """Broadcast shape of gamma for x: (1, channels, 1, ...)."""
        return (1, channels) + (1,) * (x.ndim - 2)

    def _affine(self, xn: np.ndarray, channels: int) -> np.ndarray:
        g = _param(self.gamma, "gamma", channels, xn.dtype).reshape(self._shape(xn, channels))
        b = _param(self.beta, "beta", channels, xn.dtype).reshape(self._shape(xn, channels))
        return g * xn + b

    def _backward(self, dout: np.ndarray, stat_axes: tuple[int, ...], sum_axes, grouped):
        """dx and (dgamma, dbeta) summed over `sum_axes`; `grouped` reshapes for the stats."""
        if self.xn is None:
            raise ValueError("backward called before forward (xn is None)")
        float_array(dout, "dout")
        shape_is(dout, self.input_shape, "dout")
        same_dtype(dout, self.xn, "dout", "x")
        C = self.gamma.size
        xn = self.xn.reshape(dout.shape)
        self.dbeta = dout.sum(axis=sum_axes).reshape(self.beta.shape)
        self.dgamma = (dout * xn).sum(axis=sum_axes).reshape(self.gamma.shape)
        dxn = dout * self.gamma.reshape(self._shape(dout, C))
        if not self.train:
            return dxn / self.std
        return normalize_backward(grouped(dxn), self.xn, self.std, stat_axes).reshape(
            dout.shape)


class _BatchStats(_Normalization):
    """Batch statistics in training, running statistics in test mode."""

    def __init__(self, gamma, beta, momentum, running_mean, running_var, eps):
        super().__init__(gamma, beta, eps)
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got momentum={momentum!r}")
        self.momentum = momentum
        self.running_mean, self.running_var = running_mean, running_var

    def _stats(self, x: np.ndarray, axes: tuple[int, ...], train_flg: bool) -> np.ndarray:
        """xn of x (features on axis 1), updating the running statistics in training."""
        shape = self._shape(x, x.shape[1])
        D, dt = x.shape[1], x.dtype
        for name in ("running_mean", "running_var"):
            v = getattr(self, name)
            if v is None:
                setattr(self, name, np.zeros(D, dtype=dt))
            else:
                float_array(v, name)
                if v.size != D:
                    raise ValueError(f"{name} must hold {D} values, got {name}.shape={v.shape}")
        self.train = bool(train_flg)
        if not self.train:
            rm = self.running_mean.reshape(shape).astype(dt, copy=False)
            rv = self.running_var.reshape(shape).astype(dt, copy=False)
            self.std = np.sqrt(rv + dt.type(self.eps))
            self.xn = (x - rm) / self.std
            return self.xn
        if x.size // D < 2:
            raise ValueError(f"training needs more than one value per feature/channel, got "
                             f"x.shape={x.shape}")
        mu, var, self.std, self.xn = normalize(x, axes, self.eps)
        m = dt.type(self.momentum)
        keep = dt.type(1) - m
        self.running_mean = (m * self.running_mean.astype(dt, copy=False)
                             + keep * mu.reshape(-1)).reshape(self.running_mean.shape)
        self.running_var = (m * self.running_var.astype(dt, copy=False)
                            + keep * var.reshape(-1)).reshape(self.running_var.shape)
        return self.xn


class BatchNormalization(_BatchStats):
    """The notes' layer: per-feature statistics; 4-D input is flattened per sample.

    ``eps`` defaults to the notes' 10e-7 (PyTorch's is 1e-5).
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None,
                 eps=10e-7):
        super().__init__(gamma, beta, momentum, running_mean, running_var, eps)

    def forward(self, x, train_flg=True):
        float_array(x, "x")
        if x.ndim not in (2, 4):
            raise ValueError(f"x must be 2-D (N, D) or 4-D (N, C, H, W), got x.ndim={x.ndim}")
        self.input_shape = x.shape
        x2 = x.reshape(x.shape[0], -1)
        xn = self._stats(x2, (0,), train_flg)
        return self._affine(xn, x2.shape[1]).reshape(x.shape)

    def backward(self, dout):
        if self.input_shape is None:
            raise ValueError("backward called before forward (input_shape is None)")
        shape_is(dout, self.input_shape, "dout")
        dx = self._backward_flat(dout.reshape(dout.shape[0], -1))
        return dx.reshape(self.input_shape)

    def _backward_flat(self, dout: np.ndarray) -> np.ndarray:
        shape, self.input_shape = self.input_shape, dout.shape
        try:
            return self._backward(dout, (0,), (0,), lambda a: a)
        finally:
            self.input_shape = shape


class SpatialBatchNormalization(_BatchStats):
    """Per-channel statistics of (N, C, H, W) input (CS231n's spatial_batchnorm)."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None,
                 eps=1e-5):
        super().__init__(gamma, beta, momentum, running_mean, running_var, eps)

    def forward(self, x, train_flg=True):
        float_array(x, "x")
        if x.ndim != 4:
            raise ValueError(f"x must be 4-D (N, C, H, W), got x.ndim={x.ndim}")
        self.input_shape = x.shape
        xn = self._stats(x, (0, 2, 3), train_flg)
        return self._affine(xn, x.shape[1])

    def backward(self, dout):
        return self._backward(dout, (0, 2, 3), (0, 2, 3), lambda a: a)


class LayerNormalization(_Normalization):
    """Per-sample statistics over the features of (N, D) input (nn.LayerNorm(D))."""

    def __init__(self, gamma, beta, eps=1e-5):
        super().__init__(gamma, beta, eps)

    def forward(self, x, train_flg=True):
        float_array(x, "x")
        if x.ndim != 2:
            raise ValueError(f"x must be 2-D (N, D), got x.ndim={x.ndim}")
        self.input_shape = x.shape
        _, _, self.std, self.xn = normalize(x, (1,), self.eps)
        return self._affine(self.xn, x.shape[1])

    def backward(self, dout):
        return self._backward(dout, (1,), (0,), lambda a: a)


class GroupNormalization(_Normalization):
    """Statistics per sample and group of C/G channels (nn.GroupNorm(G, C))."""

    def __init__(self, gamma, beta, G, eps=1e-5):
        super().__init__(gamma, beta, eps)
        if isinstance(G, bool) or not isinstance(G, (int, np.integer)) or G < 1:
            raise ValueError(f"G must be a positive int, got G={G!r}")
        self.G = int(G)

    def _grouped(self, a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], self.G, -1)

    def forward(self, x, train_flg=True):
        float_array(x, "x")
        if x.ndim != 4:
            raise ValueError(f"x must be 4-D (N, C, H, W), got x.ndim={x.ndim}")
        if x.shape[1] % self.G:
            raise ValueError(f"G={self.G} must divide the channels C={x.shape[1]}")
        self.input_shape = x.shape
        _, _, self.std, self.xn = normalize(self._grouped(x), (2,), self.eps)
        return self._affine(self.xn.reshape(x.shape), x.shape[1])

    def backward(self, dout):
        return self._backward(dout, (2,), (0, 2, 3), self._grouped)
