"""PyTorch twins of the notes' networks and the error bound for a whole network.

`twin(net)` reads a notes-style network (``net.params`` and ``net.layers``, an ordered
dict of Convolution / Relu / Sigmoid / Pooling / AvgPooling / Affine layers) and builds
the same network from torch.nn modules, float64, sharing the weight values (a Linear
weight is the notes' W transposed). It needs no import of the network's code.

`net_truth(model, names, x, t, dtype)` is the float64 truth for the mean cross-entropy loss
and every parameter gradient, with an elementwise bound on what a correct implementation
computing in `dtype` may be off by. How the bound is derived (the one place it is
documented):

* Forward, layer by layer, we carry e, a bound on |computed - true| for the activations.
  A layer adds its own rounding, SAFETY * gamma_K * (the layer on magnitudes |a| + e,
  |W|, |b|) with K the number of rounded operations per output (a K-term dot product
  plus the bias; none where |W| * (|a| + e) is 0: products of exact zeros and their sum
  are exact, and so is adding b to 0), and passes the incoming error on through its Lipschitz bound:
  |W| * e for convolution and affine, e for ReLU (0 where a + e < 0: both sides are 0),
  the window maximum of e for max pooling, the window mean of e for average pooling, and
  max sigma' over [a - e, a + e] times e for the sigmoid (plus gamma_4 relative rounding
  for exp, add and divide).
* The loss adds the softmax/cross-entropy rounding bound of `reference.oracle.softmax` and
  the logits' error to first order: |d loss_i| <= e_i,t + sum_j p_ij e_ij.
  The logits gradient g = (p - onehot)/N likewise: oracle bound + p (e + sum p e)/N.
* Backward, with G = |g| + e_g, every gradient is a sum of products of a (possibly
  erroneous) activation and a (possibly erroneous) upstream gradient, so its error is
  rounding SAFETY * gamma_K * (the same sum on G and |a| + e) plus the two first-order
  propagation terms (the sum on e_g and |a|, and on G and e). ReLU and max pooling route
  the gradient with the true mask / argmax; the sigmoid's s(1 - s) carries the error of s.

All rounding terms carry SAFETY (reference.bounds) once; the propagated terms are linear in
them, so the float64 truth's own rounding stays covered. The bound is first order in u
(second-order terms, (K u)^2, are far below it). Kinks: where a ReLU input lies within
its error bound of 0, or a max-pool window's largest values lie within their bounds of
each other (a digit image's blank or saturated patches give exact ties), a correct
implementation may route the gradient either way; there the backward bound takes the
whole gradient (|g| + e_g) as possible error at every candidate position, so the bound
stays valid but gets loose. `NetTruth.ambiguous` counts such places.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as Fn
from layercheck.cases.case import Case
from layercheck.reference.bounds import SAFETY, gamma
from layercheck.reference.oracle import Expected, softmax
from layercheck.reference.twin_layers import BatchNormTwin, InjectedDropout, LRNTwin
from torch import nn
from torch.nn.grad import conv2d_input, conv2d_weight

F64 = torch.float64

# module index -> (weight name, bias name) in the network's params
Names = dict[int, tuple[str, str]]


@dataclass
class NetTruth:
    """Float64 loss and gradients with their bounds; `ambiguous` counts near-kinks."""

    loss: Expected
    grads: dict[str, Expected]
    ambiguous: int
    # '<layer>.running_mean' / '.running_var' after a training forward (batch norm)
    buffers: dict[str, Expected] = field(default_factory=dict)


@dataclass
class Agreement:
    """How an implementation's loss and gradients compare with a `NetTruth`."""

    err_over_bound: dict[str, float]
    max_rel_err: dict[str, float]
    ambiguous: int

    @property
    def worst(self) -> float:
        return max(self.err_over_bound.values())


def _key(params: Mapping[str, np.ndarray], array: np.ndarray, what: str) -> str:
    for k, v in params.items():
        if v is array:
            return k
    raise ValueError(f"{what} is not one of net.params (layers and params out of sync)")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


def twin(net) -> tuple[nn.Sequential, Names]:
    """nn.Sequential twin of a notes-style net (float64), and its parameter names."""
    mods: list[nn.Module] = []
    names: Names = {}
    model_names: dict[int, str] = {}  # module index -> layer name, for stateful layers
    flat = False
    for lname, layer in net.layers.items():
        kind = type(layer).__name__
        if kind == "Convolution":
            W, b = layer.W, layer.b
            groups = getattr(layer, "groups", 1)
            pads = getattr(layer, "pads", None)  # impl's (top, bottom, left, right)
            if pads is not None and tuple(pads[0::2]) != tuple(pads[1::2]):
                raise ValueError(f"{lname}: uneven padding has no nn.Conv2d twin")
            m = nn.Conv2d(W.shape[1] * groups, W.shape[0], W.shape[2:], stride=layer.stride,
                          padding=layer.pad if pads is None else tuple(pads[0::2]),
                          dilation=getattr(layer, "dilation", 1), groups=groups, dtype=F64)
            weight = _t(W)
        elif kind == "Affine":
            if not flat:
                mods.append(nn.Flatten())
                flat = True
            W, b = layer.W, layer.b
            m = nn.Linear(W.shape[0], W.shape[1], dtype=F64)
            weight = _t(W).T
        elif kind == "Pooling":
            mods.append(nn.MaxPool2d(_kernel(layer), layer.stride, layer.pad,
                                     getattr(layer, "dilation", 1),
                                     ceil_mode=getattr(layer, "ceil_mode", False)))
            continue
        elif kind == "AvgPooling":
            mods.append(nn.AvgPool2d(_kernel(layer), layer.stride, layer.pad,
                                     ceil_mode=getattr(layer, "ceil_mode", False),
                                     count_include_pad=getattr(layer, "count_include_pad", True),
                                     divisor_override=getattr(layer, "divisor_override", None)))
            continue
        elif kind in ("Relu", "Sigmoid"):
            mods.append(nn.ReLU() if kind == "Relu" else nn.Sigmoid())
            continue
        elif kind in _STATEFUL:
            m = _STATEFUL[kind](layer)
            model_names[len(mods)] = lname
            if not isinstance(m, BatchNormTwin):
                mods.append(m)
                continue
            W, b = layer.gamma, layer.beta
            weight = _t(W).reshape(-1)
        else:
            raise ValueError(f"{lname}: no twin for layer type {kind}")
        with torch.no_grad():
            m.weight.copy_(weight)
            m.bias.copy_(_t(b).reshape(-1))
        names[len(mods)] = (_key(net.params, W, f"{lname}.W"), _key(net.params, b, f"{lname}.b"))
        mods.append(m)
    model = nn.Sequential(*mods)
    model.layer_names = model_names
    return model, names


def _dropout(layer) -> InjectedDropout:
    if type(layer).__name__ == "InvertedDropout":
        return InjectedDropout(1 - layer.p, inverted=True)
    return InjectedDropout(layer.dropout_ratio)


def _batchnorm(layer) -> BatchNormTwin:
    D = np.asarray(layer.gamma).size
    rm, rv = (np.zeros(D) if v is None else np.asarray(v).reshape(-1)
              for v in (layer.running_mean, layer.running_var))
    return BatchNormTwin(_t(layer.gamma).reshape(-1), _t(layer.beta).reshape(-1),
                         layer.momentum, layer.eps, _t(rm), _t(rv),
                         spatial=type(layer).__name__ == "SpatialBatchNormalization")


# layer type name -> twin module builder (layers with a mask, running statistics or LRN)
_STATEFUL = {
    "Dropout": _dropout,
    "InvertedDropout": _dropout,
    "LRN": lambda layer: LRNTwin(layer.size, layer.alpha, layer.beta, layer.k),
    "BatchNormalization": _batchnorm,
    "SpatialBatchNormalization": _batchnorm,
}


def load_state(model: nn.Sequential, net, masks: bool = True, stats: bool = True) -> None:
    """Copy the net's dropout masks and running statistics into the twin's modules.

    Masks are the ones the net's last training forward drew (the twin uses exactly those);
    running statistics as the net holds them now (zeros where the net has none yet).
    """
    for i, lname in getattr(model, "layer_names", {}).items():
        m, layer = model[i], net.layers[lname]
        if masks and isinstance(m, InjectedDropout):
            mask = getattr(layer, "mask", None)
            m.mask = None if mask is None or np.ndim(mask) == 0 else torch.from_numpy(
                np.asarray(mask) != 0)
        if stats and isinstance(m, BatchNormTwin):
            with torch.no_grad():
                for k in ("running_mean", "running_var"):
                    v = getattr(layer, k)
                    getattr(m, k).copy_(torch.zeros(m.weight.shape[0], dtype=F64) if v is None
                                        else _t(v).reshape(-1))


def running_stats(net) -> dict[str, np.ndarray]:
    """The net's running statistics as '<layer>.running_mean' / '.running_var' copies."""
    out = {}
    for lname, layer in net.layers.items():
        if hasattr(layer, "running_mean") and hasattr(layer, "running_var"):
            for k in ("running_mean", "running_var"):
                v = getattr(layer, k)
                if v is not None:
                    out[f"{lname}.{k}"] = np.asarray(v, dtype=np.float64).reshape(-1).copy()
    return out


def _kernel(layer) -> tuple[int, int]:
    """Pooling window: impl's `kernel` pair, or the notes' pool_h and pool_w."""
    k = getattr(layer, "kernel", None)
    return tuple(k) if k is not None else (layer.pool_h, layer.pool_w)


def load_twin(model: nn.Sequential, names: Names, params: Mapping[str, np.ndarray]) -> None:
    """Copy the notes' params into the twin (Linear weight = W.T)."""
    with torch.no_grad():
        for i, (wk, bk) in names.items():
            m = model[i]
            W = _t(params[wk])
            m.weight.copy_(W.T if isinstance(m, nn.Linear) else W.reshape(m.weight.shape))
            m.bias.copy_(_t(params[bk]).reshape(m.bias.shape))


def twin_grads(model: nn.Sequential, names: Names) -> dict[str, np.ndarray]:
    """The twin's parameter gradients in the notes' layout."""
    out = {}
    for i, (wk, bk) in names.items():
        m = model[i]
        gW = m.weight.grad.detach().numpy()
        out[wk] = (gW.T if isinstance(m, nn.Linear) else gW).copy()
        out[bk] = m.bias.grad.detach().numpy().copy()
    return out


class _Bounds:
    """Error propagation through one module type (see the module docstring)."""

    def __init__(self, dtype: str):
        self.d = dtype
        self.ambiguous = 0
        self.candidates: dict[int, torch.Tensor] = {}  # max-pool module id -> candidates
        self.memo: dict[int, dict] = {}  # module id -> forward quantities its backward uses

    def r(self, k: int, mag: torch.Tensor) -> torch.Tensor:
        """Rounding bound SAFETY * gamma_k * mag (k = 0: exact)."""
        return mag * (SAFETY * gamma(k, self.d)) if k > 0 else torch.zeros_like(mag)

    def forward(self, m: nn.Module, a: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        if hasattr(m, "bound_forward"):  # layercheck.reference.twin_layers
            return m.bound_forward(self, a, e)
        A = a.abs() + e
        if isinstance(m, nn.Conv2d):
            aW, kw = m.weight.detach().abs(), _conv_kw(m)
            k = math.prod(m.weight.shape[1:]) + 1
            dot = Fn.conv2d(A, aW, None, **kw)
            return self.r(k, _plus_bias(dot, m.bias)) + Fn.conv2d(e, aW, None, **kw)
        if isinstance(m, nn.Linear):
            aW = m.weight.detach().abs()
            return self.r(aW.shape[1] + 1, _plus_bias(A @ aW.T, m.bias)) + e @ aW.T
        if isinstance(m, nn.Flatten):
            return e.flatten(1)
        if isinstance(m, nn.ReLU):
            self.ambiguous += int(((a.abs() <= e) & (e > 0)).sum())
            return torch.where(a + e < 0, torch.zeros_like(e), e)
        if isinstance(m, nn.Sigmoid):
            z0 = a - a.clamp(-e, e)  # the point of [a - e, a + e] nearest 0: largest slope
            s0 = torch.sigmoid(z0)
            prop = s0 * (1 - s0) * e
            return prop + self.r(4, torch.sigmoid(a) + prop)
        if isinstance(m, nn.MaxPool2d):
            self.candidates[id(m)] = cand = _pool_candidates(m, a, e)
            self.ambiguous += int(cand.any(dim=2).sum())
            return m(e)
        if isinstance(m, nn.AvgPool2d):
            return m(e) + self.r(math.prod(_pair(m.kernel_size)) + 2, m(A))
        raise ValueError(f"no error bound for {type(m).__name__}")

    def backward(self, m: nn.Module, a: torch.Tensor, e: torch.Tensor, g: torch.Tensor,
                 eg: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(bound on dx, bounds on [dW, db]) from upstream gradient g and its bound eg."""
        if hasattr(m, "bound_backward"):
            return m.bound_backward(self, a, e, g, eg)
        G, A, aa = g.abs() + eg, a.abs() + e, a.abs()
        if isinstance(m, nn.Conv2d):
            W, kw = m.weight.detach(), _conv_kw(m)
            aW = W.abs()
            n = g.shape[0] * math.prod(g.shape[2:])
            dx = (self.r(W.shape[0] // m.groups * math.prod(W.shape[2:]),
                         conv2d_input(a.shape, aW, G, **kw))
                  + conv2d_input(a.shape, aW, eg, **kw))
            dW = (self.r(n, conv2d_weight(A, W.shape, G, **kw))
                  + conv2d_weight(e, W.shape, G, **kw) + conv2d_weight(aa, W.shape, eg, **kw))
            db = self.r(n, G.sum((0, 2, 3))) + eg.sum((0, 2, 3))
            return dx, [dW, db]
        if isinstance(m, nn.Linear):
            aW = m.weight.detach().abs()
            n = g.shape[0]
            dx = self.r(aW.shape[0], G @ aW) + eg @ aW
            dW = self.r(n, G.T @ A) + G.T @ e + eg.T @ aa
            db = self.r(n, G.sum(0)) + eg.sum(0)
            return dx, [dW, db]
        if isinstance(m, nn.Flatten):
            return eg.reshape(a.shape), []
        if isinstance(m, nn.ReLU):
            # where the mask may flip, the whole gradient may or may not pass
            return eg * (a > 0) + G * ((a.abs() <= e) & (e > 0)), []
        if isinstance(m, nn.Sigmoid):
            s = torch.sigmoid(a)
            es = self.forward(m, a, e)
            q = s * (1 - s)
            dq = es * ((1 - 2 * s).abs() + es)
            return eg * (q + dq) + g.abs() * dq + self.r(3, G * (q + dq)), []
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            x = a.detach().clone().requires_grad_(True)
            y = m(x)
            back = torch.autograd.grad(y, x, eg, retain_graph=True)[0]
            spread = torch.autograd.grad(y, x, G)[0]
            over = math.prod(min(k, math.ceil(k / s)) for k, s in
                             zip(_pair(m.kernel_size), _pair(m.stride or m.kernel_size),
                                 strict=True))
            if isinstance(m, nn.AvgPool2d):
                return back + self.r(over + 2, spread), []
            cand = self.candidates.get(id(m))
            if cand is None:
                cand = _pool_candidates(m, a, e)
            return back + self.r(over - 1, spread) + _pool_reroute(m, a, cand, G), []
        raise ValueError(f"no error bound for {type(m).__name__}")


def _plus_bias(dot: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """|dot| + |b|, but 0 where the dot product's magnitude is 0: then every product is an
    exact 0, the sum is exact and adding b to it is exact (a zero input window, say)."""
    b = bias.detach().abs()
    b = b[:, None, None] if dot.ndim == 4 else b
    return torch.where(dot > 0, dot + b, torch.zeros_like(dot))


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_kw(m: nn.Conv2d) -> dict:
    return dict(stride=m.stride, padding=m.padding, dilation=m.dilation, groups=m.groups)


def _pool_windows(m: nn.MaxPool2d, v: torch.Tensor, fill: float) -> torch.Tensor:
    """(N, C, kh*kw, L) windows of v, padding filled with `fill`."""
    ph, pw = _pair(m.padding)
    w = Fn.unfold(Fn.pad(v, (pw, pw, ph, ph), value=fill), kernel_size=m.kernel_size,
                  dilation=m.dilation, stride=m.stride)
    return w.reshape(*v.shape[:2], -1, w.shape[-1])


def _pool_candidates(m: nn.MaxPool2d, a: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """Window elements that may be the computed maximum where that is not surely the true
    argmax: (N, C, kh*kw, L), all False in windows without such a near-tie."""
    wa, we = _pool_windows(m, a, float("-inf")), _pool_windows(m, e, 0.0)
    a_top, top = wa.max(dim=2, keepdim=True)  # index of the first maximum
    e_top = we.gather(2, top)
    close = (wa + we >= a_top - e_top) & (we + e_top > 0)
    close = close.scatter(2, top, False)
    return close | (close.any(dim=2, keepdim=True) & torch.zeros_like(close).scatter(2, top,
                                                                                    True))


def _pool_reroute(m: nn.MaxPool2d, a: torch.Tensor, cand: torch.Tensor,
                  G: torch.Tensor) -> torch.Tensor:
    """In near-tied windows the whole window gradient G may land on any candidate."""
    if not cand.any():
        return torch.zeros_like(a)
    N, C, K, L = cand.shape
    cols = (cand * G.reshape(N, C, 1, L)).reshape(N, C * K, L)
    return Fn.fold(cols, a.shape[2:], kernel_size=m.kernel_size, dilation=m.dilation,
                   padding=m.padding, stride=m.stride)


@contextmanager
def one_thread():
    """Run torch on one thread: these tensors are small, and threads fight under load."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@one_thread()
def net_truth(model: nn.Sequential, names: Names, x: np.ndarray, t: np.ndarray,
              dtype: str) -> NetTruth:
    """Float64 loss and parameter gradients of `model` on (x, t), bounded for `dtype`."""
    acts = [_t(x)]
    for m in model:
        acts.append(m(acts[-1]))
        acts[-1].retain_grad()
    labels = torch.as_tensor(np.asarray(t), dtype=torch.long)
    model.zero_grad()
    loss = nn.CrossEntropyLoss()(acts[-1], labels)
    loss.backward()
    truth = twin_grads(model, names)
    b = _Bounds(dtype)
    z = acts[-1].detach()
    N, C = z.shape
    sm = softmax(Case("softmax", N=N, C=C, dtype=dtype),
                 {"x": z.numpy(), "t": np.asarray(t), "dout": np.float64(1.0)})
    with torch.no_grad():
        errs = [torch.zeros_like(acts[0])]
        for m, a in zip(model, acts, strict=False):
            errs.append(b.forward(m, a.detach(), errs[-1]))
        buffers = {}
        for i, lname in getattr(model, "layer_names", {}).items():
            m = model[i]
            if isinstance(m, BatchNormTwin) and m.training:
                for k, eb in zip(("running_mean", "running_var"),
                                 m.stat_bounds(b, acts[i].detach(), errs[i]), strict=True):
                    buffers[f"{lname}.{k}"] = Expected("forward", getattr(m, k).numpy().copy(),
                                                       eb.numpy())
        ez = errs[-1]
        p = torch.softmax(z, dim=1)
        pe = (p * ez).sum(1, keepdim=True)
        e_loss = float(sm["loss"].bound) + float((ez.gather(1, labels[:, None]) + pe).mean())
        eg = _t(sm["dx"].bound) + p * (ez + pe) / N
    bounds: dict[str, np.ndarray] = {}
    for i in range(len(model) - 1, -1, -1):
        m, a, e = model[i], acts[i].detach(), errs[i]
        eg, pb = b.backward(m, a, e, acts[i + 1].grad, eg)
        if i in names:
            eW, eb = (v.detach().numpy() for v in pb)
            wk, bk = names[i]
            bounds[wk] = eW.T.copy() if isinstance(m, nn.Linear) else eW
            bounds[bk] = eb
    grads = {k: Expected("backward", truth[k], bounds[k]) for k in truth}
    return NetTruth(Expected("forward", np.asarray(loss.item()), np.asarray(e_loss)), grads,
                    b.ambiguous, buffers)


def agreement(truth: NetTruth, loss: float, grads: Mapping[str, np.ndarray] | None,
              stats: Mapping[str, np.ndarray] | None = None) -> Agreement:
    """err_over_bound and max relative error of the loss and each gradient (grads None:
    the loss only), and of the running statistics where `stats` (from running_stats) is
    given."""
    eob: dict[str, float] = {}
    rel: dict[str, float] = {}
    items = {"loss": (np.asarray(loss), truth.loss)}
    if grads is not None:
        items.update({k: (grads[k], v) for k, v in truth.grads.items()})
    if stats is not None:
        missing = set(truth.buffers) - set(stats)
        if missing:
            raise ValueError(f"running statistics {sorted(missing)} missing from the net")
        items.update({k: (stats[k], v) for k, v in truth.buffers.items()})
    for k, (got, exp) in items.items():
        got = np.asarray(got, dtype=np.float64)
        if got.shape != exp.value.shape:
            raise ValueError(f"{k}: shape {got.shape}, expected {exp.value.shape}")
        err = np.abs(got - exp.value)
        with np.errstate(divide="ignore", invalid="ignore"):
            eob[k] = float(np.where(err == 0, 0.0, err / exp.bound).max())
            rel[k] = float(np.where(err == 0, 0.0, err / np.abs(exp.value)).max())
    return Agreement(eob, rel, truth.ambiguous)
