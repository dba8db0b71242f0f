"""PyTorch as the oracle: float64 truth and error bounds for every output of a case."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as Fn
from layercheck.cases.case import Case
from layercheck.reference.bounds import SAFETY, UNDERFLOW, bound
from layercheck.reference.expected import Expected, Truth
from layercheck.reference.oracle_curricula import REFERENCES as CURRICULA_REFERENCES
from torch import nn

F64 = torch.float64


class Rejected(Exception):
    """PyTorch rejects the configuration; a correct implementation must too."""


def _t(a: np.ndarray | None, grad: bool = False) -> torch.Tensor | None:
    if a is None:
        return None
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


def _grad(y: torch.Tensor, wrt: list[torch.Tensor], dout: torch.Tensor) -> list[np.ndarray]:
    # A None dout means cases/ judged the output size invalid but PyTorch accepted it.
    assert dout is not None, "layercheck.cases.inputs.output_shape disagrees with PyTorch"
    gs = torch.autograd.grad(y, wrt, dout, allow_unused=True)
    return [np.zeros(w.shape) if g is None else _np(g) for g, w in zip(gs, wrt, strict=True)]


def _pad_arg(case: Case) -> int | tuple[int, int] | str:
    return case.pad if isinstance(case.pad, str) else tuple(case.pad)


def _overlap(case: Case) -> int:
    """Most windows any one input element belongs to."""
    n = 1
    for k, s, d in zip(case.kernel, case.stride, case.dilation, strict=True):
        n *= min(k, math.ceil((d * (k - 1) + 1) / max(s, 1)))
    return n


def _call(f: Callable[[], Truth]) -> Truth:
    try:
        return f()
    except (RuntimeError, ValueError) as e:
        raise Rejected(str(e).strip().splitlines()[0]) from e


def conv(case: Case, a: dict) -> Truth:
    """nn.Conv2d with the same weights; bounds from conv2d(|x|, |W|)."""
    C, F, g = case.C, case.F, case.groups
    kw = dict(stride=case.stride, padding=_pad_arg(case), dilation=case.dilation, groups=g)
    m = nn.Conv2d(C, F, case.kernel, bias=case.bias, dtype=F64, **kw)
    with torch.no_grad():
        m.weight.copy_(_t(a["W"]))
        if case.bias:
            m.bias.copy_(_t(a["b"]))
    x, dout = _t(a["x"], grad=True), _t(a["dout"])
    y = m(x)
    params = [x, m.weight] + ([m.bias] if case.bias else [])
    grads = _grad(y, params, dout)
    # Magnitudes: the same operations on absolute values.
    ax, aW, ad = x.detach().abs(), m.weight.detach().abs(), dout.abs()
    ab = m.bias.detach().abs() if case.bias else None
    mag_out = Fn.conv2d(ax, aW, ab, **kw)
    xr, Wr = ax.clone().requires_grad_(True), aW.clone().requires_grad_(True)
    mag_dx, mag_dW = _grad(Fn.conv2d(xr, Wr, None, **kw), [xr, Wr], ad)
    kh, kw_ = case.kernel
    per_out = C // g * kh * kw_ + case.bias
    n_pos = math.prod(y.shape) // F
    d = case.dtype
    truth = {
        "out": Expected("forward", _np(y), bound(per_out, d, _np(mag_out))),
        "dx": Expected("backward", grads[0], bound(F // g * kh * kw_, d, mag_dx)),
        "dW": Expected("backward", grads[1], bound(n_pos, d, mag_dW)),
    }
    if case.bias:
        sum_axes = (0, 2, 3) if case.batched else (1, 2)
        mag_db = _np(ad.sum(dim=sum_axes))
        truth["db"] = Expected("backward", grads[2], bound(n_pos, d, mag_db))
    return truth


def _pool(case: Case, a: dict, module: nn.Module, per_out: int, per_dx: int) -> Truth:
    x, dout = _t(a["x"], grad=True), _t(a["dout"])
    y = module(x)
    (dx,) = _grad(y, [x], dout)
    xr = x.detach().clone().requires_grad_(True)
    mag_dx = _grad(module(xr), [xr], dout.abs())[0]
    d = case.dtype
    with torch.no_grad():
        mag_out = _np(module(x.detach().abs()))
    return {
        "out": Expected("forward", _np(y), bound(per_out, d, mag_out)),
        "dx": Expected("backward", dx, bound(per_dx, d, mag_dx)),
    }


def pool(case: Case, a: dict) -> Truth:
    """nn.MaxPool2d: forward exact; dx exact unless windows overlap (then summed)."""
    m = nn.MaxPool2d(case.kernel, case.stride, _pad_arg(case), case.dilation,
                     ceil_mode=case.ceil_mode)
    return _pool(case, a, m, per_out=0, per_dx=_overlap(case) - 1)


def avgpool(case: Case, a: dict) -> Truth:
    """nn.AvgPool2d: k*k-term sums and one division (or reciprocal product)."""
    m = nn.AvgPool2d(case.kernel, case.stride, _pad_arg(case), ceil_mode=case.ceil_mode,
                     count_include_pad=case.count_include_pad,
                     divisor_override=case.divisor_override)
    k = math.prod(case.kernel)
    return _pool(case, a, m, per_out=k + 2, per_dx=_overlap(case) + 2)


def affine(case: Case, a: dict) -> Truth:
    """nn.Linear with weight W.T (the notes' W is (in, out))."""
    W = _t(a["W"])
    D, F = W.shape
    m = nn.Linear(D, F, dtype=F64)
    with torch.no_grad():
        m.weight.copy_(W.T)
        m.bias.copy_(_t(a["b"]))
    x, dout = _t(a["x"], grad=True), _t(a["dout"])
    N = x.shape[0]
    y = m(x.reshape(N, -1))
    dx, dWt, db = _grad(y, [x, m.weight, m.bias], dout)
    ax, aW, ad = np.abs(a["x"].reshape(N, -1)).astype(np.float64), np.abs(_np(W)), np.abs(_np(dout))
    d = case.dtype
    return {
        "out": Expected("forward", _np(y), bound(D + 1, d, ax @ aW + np.abs(_np(m.bias)))),
        "dx": Expected("backward", dx, bound(F, d, (ad @ aW.T).reshape(x.shape))),
        "dW": Expected("backward", dWt.T.copy(), bound(N, d, ax.T @ ad)),
        "db": Expected("backward", db, bound(N, d, ad.sum(axis=0))),
    }


def relu(case: Case, a: dict) -> Truth:
    """nn.ReLU: no arithmetic, exact both ways."""
    x, dout = _t(a["x"], grad=True), _t(a["dout"])
    y = nn.ReLU()(x)
    (dx,) = _grad(y, [x], dout)
    zero = np.zeros(x.shape)
    return {"out": Expected("forward", _np(y), zero), "dx": Expected("backward", dx, zero)}


def softmax(case: Case, a: dict) -> Truth:
    """nn.CrossEntropyLoss (mean) on logits; bounds from a log-sum-exp error analysis.

    Per sample, with z = x - max(x) and S = sum(exp z): loss_i = max + log S - x_t.
    exp(z_j) is off by about u*(1 + |z_j|) relatively, the sum adds gamma_C, the log and
    the two subtractions u times their operands. dx_j = dout*(p_j - t_j)/N inherits p_j's
    relative error, which includes u*|max + log S| when p is formed as exp(x - lse).
    """
    x, dout = _t(a["x"], grad=True), _t(a["dout"])
    t = _t(a["t"]) if a["t"].ndim == 2 else torch.as_tensor(a["t"], dtype=torch.long)
    loss = nn.CrossEntropyLoss()(x, t)
    (dx,) = _grad(loss, [x], dout)
    X = np.asarray(a["x"], dtype=np.float64)
    N, C = X.shape
    T = np.eye(C)[a["t"]] if a["t"].ndim == 1 else np.asarray(a["t"], dtype=np.float64)
    m = X.max(axis=1, keepdims=True)
    z = np.abs(X - m)
    zmax = z.max(axis=1, keepdims=True)
    logS = np.log(np.exp(-z).sum(axis=1, keepdims=True))
    P = np.exp(-z - logS)
    loss_i = (m + logS).ravel() - (X * T).sum(axis=1)
    xt = (np.abs(X) * T).sum(axis=1)
    mag_i = 2 + zmax.ravel() + np.abs(m).ravel() + np.abs(logS).ravel() + xt + np.abs(loss_i)
    d, g = case.dtype, C + 8
    loss_bound = bound(g, d, mag_i.mean()) + bound(N + 1, d, np.abs(loss_i).mean())
    # exp(x - (max + log S)) rounds max + log S first: |max| enters p's relative error too.
    shift = np.abs(m) + np.abs(logS)
    mag_dx = abs(float(a["dout"])) / N * (P * (3 + z + zmax + shift) + np.abs(P - T))
    return {
        "loss": Expected("forward", _np(loss), np.asarray(loss_bound)),
        "dx": Expected("backward", dx, bound(g, d, mag_dx)
                       + SAFETY * UNDERFLOW[d] * max(1.0, abs(float(a["dout"])))),
    }


REFERENCES: dict[str, Callable[[Case, dict], Truth]] = {
    "conv": conv, "pool": pool, "avgpool": avgpool,
    "affine": affine, "relu": relu, "softmax": softmax,
    **CURRICULA_REFERENCES,
}


def reference(case: Case, arrays: dict) -> Truth:
    """Truth for every output of `case`, or raise `Rejected` where PyTorch refuses it."""
    return _call(lambda: REFERENCES[case.layer](case, arrays))
