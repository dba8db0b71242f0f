"""PyTorch twins of the curricula's networks, built from a case's spec and seeded parameters
(never from the student's own layers), and the judge of a network run.

The twin is nn.Sequential([Conv2d, ReLU, MaxPool2d(2, 2), Flatten,] Linear, ReLU, ..., Linear)
in float64 with each Linear's weight the curriculum's W transposed (the conv part for the
notes' SimpleConvNet and CS231n's ThreeLayerConvNet). `layercheck.reference.convnet.net_truth`
gives the mean cross-entropy loss and every gradient with its whole-network bound (derivation
there).
On top of it, CS231n's L2 term (assignment 2's convention; the notes' MultiLayerNet's
weight decay lambda is the same term), over every W, the convolution's included:

  loss = data_loss + 0.5 * reg * sum_l sum(W_l**2),   dW_l = dW_l(data) + reg * W_l.

Bounds of the added terms (u of the case's dtype, SAFETY as everywhere):
- 0.5*reg*sum(W_l**2): n_l squares, n_l - 1 additions, two products: positive terms, so
  gamma_{n_l + 2} of the term; the L terms and the data loss add up with L roundings:
  e_loss += SAFETY * (gamma_{n_max + 2} R + gamma_{L} (|data_loss| + R)), R the reg total.
- reg * W_l: reg rounded, one product, one addition to the data gradient:
  e_dW += SAFETY * (gamma_2 reg |W| + gamma_1 (|dW_data| + reg |W|)).
The scores of CS231n's loss(X) are the logits, with convnet's forward bound (for a
convolutional net, convnet's own forward propagation of bounds, module by module), re-derived
here for the affine/ReLU chain: e_{l+1} = |W|^T e_l + SAFETY gamma_{D_l + 1} (|W|^T (|a_l| + e_l)
+ |b|) (ReLU passes e, and 0 where a + e < 0).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from layercheck.cases.net_cases import (
    BN_EPS,
    LN_EPS,
    NetCase,
    NetInputs,
    NetRun,
    dropout_masks,
)
from layercheck.reference.bounds import SAFETY, gamma
from layercheck.reference.diagnosis import Diagnosis, unit_words
from layercheck.reference.expected import Expected

if TYPE_CHECKING:  # torch is imported where a truth is computed (cached truths need none)
    import torch
    from layercheck.reference.convnet import Names
    from torch import nn


@dataclass
class NetExpected:
    """The truth of one network case: loss, grads by name, scores (logits)."""

    loss: Expected
    grads: dict[str, Expected]
    scores: Expected | None  # CS231n's loss(X); None for the notes' nets
    reg_term: float = 0.0  # 0.5 * reg * sum(W**2), for diagnoses
    data_grads: dict[str, np.ndarray] = field(default_factory=dict)  # without reg * W
    # the notes' nets: the float64 central difference at NUM_H, bounded (`numerical_truth`)
    num_grads: dict[str, Expected] = field(default_factory=dict)


def _tensor(a: np.ndarray) -> torch.Tensor:
    import torch

    return torch.tensor(np.asarray(a, np.float64), dtype=torch.float64)


def layer_norm_twin(gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> nn.Module:
    """Layer norm of an (N, D) input: each row normalized over its D features (biased
    variance, eps inside the square root), then gamma * xhat + beta per feature; the same in
    train and test mode (no running statistics).

    Its bounds are batch norm's, transposed: a row's statistics are a column's of x.T, so
    BatchNormTwin's training-mode error propagation (unit gamma, zero beta) runs on x.T, and
    the per-feature scale and shift are bounded as batch norm's are (gamma * xhat + beta: two
    roundings; dgamma = sum_n g * xhat, dbeta = sum_n g); the upstream gradient reaching the
    normalization is g * gamma, one more rounding.
    """
    import torch
    import torch.nn.functional as Fn
    from layercheck.reference.twin_layers import BatchNormTwin
    from torch import nn

    class LayerNormTwin(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(gamma.clone())
            self.bias = nn.Parameter(beta.clone())
            self.eps = float(eps)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return Fn.layer_norm(x, (x.shape[1],), self.weight, self.bias, self.eps)

        def _rows(self, n: int) -> BatchNormTwin:
            one = torch.ones(n, dtype=torch.float64)
            return BatchNormTwin(one, torch.zeros_like(one), 0.9, self.eps,
                                 torch.zeros_like(one), one).train()

        def bound_forward(self, b, a, e):
            p = self._rows(a.shape[0])._train_parts(b, a.T, e.T)
            ga, be = self.weight.detach().abs(), self.bias.detach().abs()
            return ga * p["dxh"].T + b.r(2, ga * p["xh"].T.abs() + be)

        def bound_backward(self, b, a, e, g, eg):
            rows = self._rows(a.shape[0])
            p = rows._train_parts(b, a.T, e.T)
            ga = self.weight.detach().abs()
            G, X, dxh = g.abs() + eg, p["xh"].T.abs(), p["dxh"].T
            gx = g * self.weight.detach()
            egx = ga * eg + b.r(1, ga * G)
            dx, _ = rows.bound_backward(b, a.T, e.T, gx.T, egx.T)
            M = a.shape[0]
            dgamma = b.r(M + 1, (G * X).sum(0)) + (G * dxh).sum(0) + (eg * X).sum(0)
            dbeta = b.r(M, G.sum(0)) + eg.sum(0)
            return dx.T, [dgamma, dbeta]

    return LayerNormTwin()


def twin(case: NetCase, params: dict[str, np.ndarray]) -> tuple[nn.Sequential, Names]:
    """nn.Sequential twin (float64) with the case's parameter values: [Conv2d, ReLU,
    MaxPool2d(2, 2), Flatten,] Linear, ReLU, ..., Linear (x of an MLP is (N, D) already,
    and convnet.net_truth needs a first module with weights, so no leading Flatten)."""
    import torch
    from torch import nn

    F64 = torch.float64
    mods: list[nn.Module] = []
    names: Names = {}
    off = 0
    if case.convolutional:
        F, k, p, s = case.conv
        conv = nn.Conv2d(case.image[0], F, k, stride=s, padding=p, dtype=F64)
        with torch.no_grad():
            conv.weight.copy_(_tensor(params["W1"]))
            conv.bias.copy_(_tensor(params["b1"]))
        names[0] = ("W1", "b1")
        mods += [conv, nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten()]
        off = 1
    w = case.widths
    for i in range(1, len(w)):
        lin = nn.Linear(w[i - 1], w[i], dtype=F64)
        with torch.no_grad():
            lin.weight.copy_(_tensor(params[f"W{i + off}"]).T)
            lin.bias.copy_(_tensor(params[f"b{i + off}"]))
        names[len(mods)] = (f"W{i + off}", f"b{i + off}")
        mods.append(lin)
        if i < len(w) - 1 and case.norm == "layernorm":  # affine - layernorm - relu
            names[len(mods)] = (f"gamma{i}", f"beta{i}")
            mods.append(layer_norm_twin(_tensor(params[f"gamma{i}"]),
                                        _tensor(params[f"beta{i}"]), LN_EPS))
        if i < len(w) - 1 and case.norm == "batchnorm":  # affine - batchnorm - relu
            from layercheck.reference.twin_layers import BatchNormTwin

            names[len(mods)] = (f"gamma{i}", f"beta{i}")
            mods.append(BatchNormTwin(_tensor(params[f"gamma{i}"]),
                                      _tensor(params[f"beta{i}"]), 0.9, BN_EPS[case.api],
                                      torch.zeros(w[i], dtype=F64),
                                      torch.ones(w[i], dtype=F64)))
        if i < len(w) - 1:
            mods.append(nn.ReLU())
        if i < len(w) - 1 and case.keep < 1:  # relu - dropout, masks known from the seed
            from layercheck.reference.twin_layers import InjectedDropout

            drop = InjectedDropout(1 - case.keep, inverted=case.api == "cs231n")
            drop.mask = torch.tensor(dropout_masks(case)[i - 1], dtype=F64)
            mods.append(drop)
    return nn.Sequential(*mods), names


def _twin_scores(case: NetCase, inputs: NetInputs) -> Expected:
    """Logits of the twin in test mode, bounded module by module as convnet.net_truth does
    (a convolutional net; a batch-normalized one, whose loss(X) runs before any training
    forward, so on CS231n's first running statistics: mean 0, variance 1)."""
    import torch
    from layercheck.reference.convnet import _Bounds  # the forward half of net_truth's bounds

    model, _ = twin(case, inputs.params)
    model.eval()
    b = _Bounds(case.dtype)
    with torch.no_grad():
        a = _tensor(inputs.x)
        e = torch.zeros_like(a)
        for m in model:
            a, e = m(a), b.forward(m, a, e)
    return Expected("forward", a.numpy().copy(), e.numpy().copy())


def _scores(case: NetCase, inputs: NetInputs) -> Expected:
    """Logits in float64 and the forward bound of the module docstring."""
    if case.convolutional or case.norm:
        return _twin_scores(case, inputs)
    a = np.asarray(inputs.x, np.float64)
    e = np.zeros_like(a)
    L = len(case.widths) - 1
    for i in range(1, L + 1):
        W = np.asarray(inputs.params[f"W{i}"], np.float64)
        b = np.asarray(inputs.params[f"b{i}"], np.float64)
        z = a @ W + b
        e = e @ np.abs(W) + SAFETY * gamma(W.shape[0] + 1, case.dtype) * (
            (np.abs(a) + e) @ np.abs(W) + np.abs(b))
        if i < L:
            e = np.where(z + e < 0, 0.0, e)
            z = np.maximum(z, 0.0)
        a = z
    return Expected("forward", a, e)


def truth(case: NetCase, inputs: NetInputs) -> NetExpected:
    """Loss, every gradient and the scores, in float64, with bounds for the case's dtype."""
    from layercheck.reference.convnet import net_truth  # imports torch: only on a cache miss

    model, names = twin(case, inputs.params)
    nt = net_truth(model, names, np.asarray(inputs.x, np.float64), inputs.y, case.dtype)
    loss, grads = nt.loss, dict(nt.grads)
    data_grads = {k: v.value.copy() for k, v in grads.items()}
    R = 0.0
    if case.reg:
        d, r = case.dtype, case.reg
        Ws = [np.asarray(v, np.float64) for k, v in inputs.params.items() if k.startswith("W")]
        R = sum(0.5 * r * float((W * W).sum()) for W in Ws)
        n_max = max(W.size for W in Ws)
        data = float(loss.value)
        e = float(loss.bound) + SAFETY * (gamma(n_max + 2, d) * R
                                          + gamma(len(Ws), d) * (abs(data) + R))
        loss = Expected("forward", np.asarray(data + R), np.asarray(e))
        for i, W in enumerate(Ws, start=1):  # W1, W2, ... in the params' (layer) order
            g = grads[f"W{i}"]
            eb = g.bound + SAFETY * (gamma(2, d) * r * np.abs(W)
                                     + gamma(1, d) * (np.abs(g.value) + r * np.abs(W)))
            grads[f"W{i}"] = Expected("backward", g.value + r * W, eb)
    scores = _scores(case, inputs) if case.api == "cs231n" else None
    exp = NetExpected(loss, grads, scores, R, data_grads)
    if case.api == "book" and case.keep == 1:
        exp.num_grads = numerical_truth(case, inputs, float(loss.bound))
    return exp


# --- the notes' numerical gradient ------------------------------------------------------
NUM_H = 1e-4  # the notes' numerical_gradient: (f(x + h) - f(x - h)) / (2 * h), h = 1e-4


def numerical_truth(case: NetCase, inputs: NetInputs, e_loss: float) -> dict[str, Expected]:
    """What the notes' `numerical_gradient` computes, per parameter, with its bound.

    A student's `gradient` may call the notes' numerical gradient: for each element w it sets
    w+ = fl(w + h), w- = fl(w - h) in float64 and returns fl(fl(f(w+) - f(w-)) / (2h)). Its
    distance to the true gradient is the truncation error (h**2/6 |f3| where f is smooth, f3
    the third derivative; no such bound where a ReLU or max pool switches inside
    [w - h, w + h]) plus rounding. The truncation is not bounded here but computed: the twin
    evaluates its own float64 loss at the same two points fl(w +- h) (so the step's own
    rounding is the same on both sides), and the exact central quotient q of the real loss
    at those points is the common reference. Each loss is within e_loss of the real one (the
    twin's float64 loss bound; at w +- h the activations move by O(h), a relative O(1e-4)
    change of the bound, inside SAFETY), so each side's quotient is within e_loss / h + 2u|q|
    of q (two losses over 2h; the subtraction's and the division's rounding). Student and
    twin then differ by at most SAFETY * (2 e_loss / h + gamma_4 |q|). With h = 1e-4 this is
    ~1e-11 for a loss bound of ~1e-16: a one-sided difference (error ~ h/2 |f''|) or another
    h stays outside.
    """
    import torch

    model, names = twin(case, inputs.params)
    model.train()
    where: dict[str, tuple[torch.Tensor, bool]] = {}
    for i, (wk, bk) in names.items():
        m = model[i]
        where[wk] = (m.weight, isinstance(m, torch.nn.Linear))
        where[bk] = (m.bias, False)
    x = _tensor(inputs.x)
    y = torch.as_tensor(np.asarray(inputs.y), dtype=torch.long)
    reg = float(case.reg)

    def loss() -> float:
        data = float(torch.nn.functional.cross_entropy(model(x), y))
        if reg:
            data += sum(0.5 * reg * float((where[k][0].detach() ** 2).sum())
                        for k in where if k.startswith("W"))
        return data

    out: dict[str, Expected] = {}
    u4 = gamma(4, "f64")
    with torch.no_grad():
        for k, p in inputs.params.items():
            tensor, transposed = where[k]
            w = np.asarray(p, np.float64)
            q = np.zeros_like(w)
            for idx in np.ndindex(w.shape):
                at = tuple(reversed(idx)) if transposed else idx
                old = float(w[idx])
                tensor[at] = old + NUM_H
                up = loss()
                tensor[at] = old - NUM_H
                down = loss()
                tensor[at] = old
                q[idx] = (up - down) / (2 * NUM_H)
            bound = SAFETY * (2 * e_loss / NUM_H + u4 * np.abs(q))
            out[k] = Expected("backward", q, bound)
    return out


# --- the judge ---------------------------------------------------------------------------


@dataclass
class NetVerdict:
    """One judged output of a network case: 'loss', 'scores' or 'grads[<name>]'."""

    case_id: str
    layer: str
    output: str
    status: str  # pass | fail | error | missing
    err_over_bound: float | None = None
    worst_index: tuple[int, ...] | None = None
    diagnoses: tuple[Diagnosis, ...] = ()  # the findings as codes and facts
    max_abs_err: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def diagnosis(self) -> str:
        """The findings in words (reference/diagnosis.py's templates, joined by '; ')."""
        return unit_words(self.diagnoses)


def _compare(actual: object, exp: Expected, dtype: str, scalar: bool = False
             ) -> tuple[bool, float | None, tuple[int, ...] | None, str, float | None]:
    """(ok, err_over_bound, worst index, why, max_abs_err)."""
    if scalar and isinstance(actual, numbers.Real | np.ndarray) and np.size(actual) == 1:
        a = np.asarray(actual, dtype=np.float64).reshape(())
    elif not isinstance(actual, np.ndarray):
        kind = type(actual)
        return False, None, None, f"is a {kind.__module__}.{kind.__qualname__}, expected " \
                                  f"a numpy.ndarray", None
    else:
        if actual.shape != exp.value.shape:
            return False, None, None, f"has shape {actual.shape}, expected {exp.value.shape}", None
        if actual.dtype != np.dtype(dtype):
            return False, None, None, f"has dtype {actual.dtype}, expected {dtype}", None
        a = actual.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.abs(a - exp.value)
        err = np.where(np.isnan(err), np.inf, err)
        ratio = np.where(err == 0, 0.0, err / exp.bound)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    ok = bool((ratio <= 1).all())
    why = "" if ok else "values outside the bound"
    return ok, float(ratio.max()), worst, why, float(err.max())


def _close(a: object, want: np.ndarray, bound: np.ndarray) -> bool:
    if not isinstance(a, np.ndarray | numbers.Real) or np.shape(a) != np.shape(want):
        return False
    with np.errstate(invalid="ignore"):
        return bool((np.abs(np.asarray(a, np.float64) - want) <= bound).all())


def _index(name: str) -> int:
    """The layer number a parameter name ends in: W3 -> 3, gamma1 -> 1."""
    return int(name[len(name.rstrip("0123456789")):])


def _layer_of(case: NetCase, name: str) -> str:
    i = _index(name)
    if name.startswith(("gamma", "beta")):
        return f"{case.norm or 'batchnorm'} layer {i}"
    if case.convolutional:
        return "Conv1" if i == 1 else f"Affine{i - 1}"
    return f"Affine{i}" if case.api == "book" else f"affine layer {i}"


def _grad_cause(case: NetCase, inputs: NetInputs, exp: NetExpected, name: str, got: object,
                loss_ok: bool) -> Diagnosis | None:
    """Why grads[name] is wrong, where a known pattern fits."""
    want = exp.grads[name]
    for other, oexp in exp.grads.items():
        if other != name and _close(got, oexp.value, oexp.bound):
            return Diagnosis("grad_other_param", {"name": name, "other": other,
                                                  "layer": _layer_of(case, other)})
    if name.startswith("W") and case.reg:
        W = np.asarray(inputs.params[name], np.float64)
        data = exp.data_grads[name]
        if _close(got, data, want.bound):
            return Diagnosis("reg_missing_in_grad", {"name": name, "loss_ok": loss_ok})
        if _close(got, data + 2 * case.reg * W, want.bound):
            return Diagnosis("reg_double", {"name": name})
    num = exp.num_grads.get(name)
    if num is not None and _close(got, num.value, 1e-3 * np.abs(num.value) + 1e-6):
        return Diagnosis("grad_numerical_off", {"name": name, "h": NUM_H})
    if _close(got, want.value * case.N, want.bound * case.N):
        return Diagnosis("grad_sum_not_mean", {"name": name, "N": case.N})
    if _close(got, -want.value, want.bound):
        return Diagnosis("grad_sign", {"name": name})
    return None


def _scores_cause(case: NetCase, inputs: NetInputs, exp: NetExpected, got: object
                  ) -> Diagnosis | None:
    """Why loss(X)'s scores are wrong: a batch-normalized net left in train mode."""
    if case.norm != "batchnorm" or not isinstance(got, np.ndarray):
        return None
    import torch

    model, _ = twin(case, inputs.params)
    with torch.no_grad():
        train = model.train()(_tensor(inputs.x)).numpy()
    # a cause's match, never a verdict: the scores follow the train-mode logits closely
    scale = np.abs(exp.scores.bound).max() * 1e3 + 1e-6 * np.abs(train).max()
    if _close(got, train, np.full_like(train, scale)):
        return Diagnosis("scores_train_mode")
    return None


def _dropout_cause(case: NetCase, inputs: NetInputs, exp: NetExpected, got: object
                   ) -> Diagnosis | None:
    """Why a dropout net's loss is wrong: dropout left out, or kept units not divided by p
    (the loss of each variant twin, the reg term added)."""
    import torch
    from layercheck.reference.twin_layers import InjectedDropout

    if not isinstance(got, numbers.Real | np.ndarray) or np.size(got) != 1:
        return None
    x, y = _tensor(inputs.x), torch.as_tensor(np.asarray(inputs.y), dtype=torch.long)
    variants = {"no_dropout": "dropout_missing", "not_inverted": "dropout_not_inverted"}
    for name, code in variants.items():
        model, _ = twin(case, inputs.params)
        for m in model:
            if isinstance(m, InjectedDropout):
                m.inverted = False  # kept units scaled by 1 (no_dropout: every unit kept)
                if name == "no_dropout":
                    m.mask = torch.ones_like(m.mask)
        with torch.no_grad():
            loss = float(torch.nn.functional.cross_entropy(model.train()(x), y)) + exp.reg_term
        if abs(float(np.asarray(got)) - loss) <= 1e3 * float(exp.loss.bound) + 1e-9 * abs(loss):
            return Diagnosis(code)  # a cause's match, never a verdict
    return None


def _loss_cause(case: NetCase, exp: NetExpected, got: object,
                params: dict[str, np.ndarray] | None = None) -> Diagnosis | None:
    value, b = exp.loss.value, exp.loss.bound
    if _close(got, value * case.N, b * case.N):
        return Diagnosis("loss_sum_not_mean", {"N": case.N})
    if not case.reg:
        return None
    if _close(got, value - exp.reg_term, b):
        return Diagnosis("reg_missing_in_loss")
    if _close(got, value + exp.reg_term, b):
        return Diagnosis("reg_double_in_loss")
    for name, W in (params or {}).items():
        term = 0.5 * case.reg * float(np.sum(np.asarray(W, np.float64) ** 2))
        if name.startswith("W") and _close(got, value - term, b):
            return Diagnosis("reg_skips_param", {"name": name, "layer": _layer_of(case, name)})
    return None


def judge(case: NetCase, inputs: NetInputs, run: NetRun, exp: NetExpected | None = None
          ) -> list[NetVerdict]:
    """Verdicts for the scores (CS231n), the loss and every gradient. Gradients are listed
    from the last layer to the first (backpropagation order): the first failing one is where
    the gradient first goes wrong."""
    cid, L = case.id, case.layer
    if run.missing:
        return [NetVerdict(cid, L, "*", "missing", diagnoses=(Diagnosis("net_missing"),))]
    if run.error and run.error_phase in ("construct", "set"):
        return [NetVerdict(cid, L, "*", "error", diagnoses=(Diagnosis(
            "unit_error", {"phase": run.error_phase, "error": run.error}),))]
    exp = truth(case, inputs) if exp is None else exp
    out = []

    def found(what: str, why: str, cause: Diagnosis | None) -> tuple[Diagnosis, ...]:
        return (Diagnosis("net_output", {"what": what, "why": why}),
                *((cause,) if cause is not None else ()))

    if case.api == "cs231n":
        ok, r, w, why, e = _compare(run.scores, exp.scores, case.np_dtype)
        ds = () if ok else found("scores", why, _scores_cause(case, inputs, exp, run.scores))
        out.append(NetVerdict(cid, L, "scores", "pass" if ok else "fail", r, w, ds, e))
    if run.error and run.error_phase in ("scores", "loss"):
        out.append(NetVerdict(cid, L, "loss", "error",
                              diagnoses=(Diagnosis("unit_error", {"error": run.error}),)))
        return out
    ok, r, w, why, e = _compare(run.loss, exp.loss, case.np_dtype, scalar=True)
    cause = None if ok else (_loss_cause(case, exp, run.loss, inputs.params)
                             or (_dropout_cause(case, inputs, exp, run.loss)
                                 if case.keep < 1 and case.api == "cs231n" else None))
    out.append(NetVerdict(cid, L, "loss", "pass" if ok else "fail", r, w,
                          () if ok else found("loss", why, cause), e))
    loss_ok = ok
    if run.error:
        out.append(NetVerdict(cid, L, "grads", "error",
                              diagnoses=(Diagnosis("unit_error", {"error": run.error}),)))
        return out
    if not isinstance(run.grads, dict):
        out.append(NetVerdict(cid, L, "grads", "fail", diagnoses=(Diagnosis(
            "grads_not_dict", {"type": type(run.grads).__name__}),)))
        return out
    # W3, b3, beta2, gamma2, W2, b2, ...: backward meets a layer's batch norm before its affine
    order = sorted(exp.grads, key=lambda k: (-_index(k), not k.startswith(("gamma", "beta")),
                                             k))
    for name in order:
        got = run.grads.get(name)
        if got is None:
            i = _index(name)
            pair = name.startswith(("gamma", "beta")) and not {f"gamma{i}", f"beta{i}"} & set(
                run.grads)
            out.append(NetVerdict(cid, L, f"grads[{name}]", "fail", diagnoses=(Diagnosis(
                "no_gradient", {"name": name, "layer": _layer_of(case, name), "pair": pair,
                                "index": i}),)))
            continue
        ok, r, w, why, e = _compare(got, exp.grads[name], case.np_dtype)
        num = exp.num_grads.get(name)
        if not ok and num is not None and _compare(got, num, case.np_dtype)[0]:
            ok = True  # the notes' numerical gradient, within its own bound
        ds = () if ok else found(f"grads['{name}'] ({_layer_of(case, name)})", why,
                                 _grad_cause(case, inputs, exp, name, got, loss_ok))
        out.append(NetVerdict(cid, L, f"grads[{name}]", "pass" if ok else "fail", r, w, ds, e))
    return out


def first_failure(verdicts: list[NetVerdict]) -> NetVerdict | None:
    return next((v for v in verdicts if not v.passed), None)
