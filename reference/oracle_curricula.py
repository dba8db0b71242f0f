"""PyTorch truths and rounding-error bounds for the curricula's other layers (issue 13).

Sigmoid, batch/layer/group normalization, LRN and the SVM loss are judged value for value
against PyTorch in float64; dropout's truth depends on the mask the implementation drew,
so it is built after the run (reference/dropout_judge.py). Where a curriculum differs from
PyTorch on purpose, the truth follows the curriculum and says so:

- batch norm's running statistics: ``running = momentum * running + (1 - momentum) * batch``
  with the curricula's momentum 0.9 (PyTorch's ``momentum=0.1`` is the weight of the batch),
  the *biased* batch variance (PyTorch keeps the unbiased one), and zeros as the start
  (PyTorch starts the variance at ones). eps is inside the square root, as in PyTorch.
- the notes' BatchNormalization uses eps = 10e-7 (CS231n and PyTorch: 1e-5).
- CS231n's svm_loss is nn.MultiMarginLoss times the number of classes C.

Notation for the bounds (derivations beside each function): u is the unit roundoff of the
case's dtype, gamma_k = k*u/(1 - k*u); every bound is first order in u and multiplied by
SAFETY (the float64 truth rounds too). exp, log and pow are taken to be within 2 ulp
(glibc and SLEEF are within 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from layercheck.cases import registry
from layercheck.cases.case import Case
from layercheck.cases.inputs import norm_features
from layercheck.reference.bounds import SAFETY, UNDERFLOW, UNIT_ROUNDOFF, gamma
from layercheck.reference.expected import Expected, Truth
from torch import nn

F64 = torch.float64
MOMENTUM = 0.9  # the curricula's; PyTorch's equivalent is momentum=0.1


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64, requires_grad=grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def sigmoid(case: Case, a: dict) -> Truth:
    """torch.sigmoid.

    out = 1 / (1 + exp(-x)) (or exp(x) / (1 + exp(x))): exp within 2u relatively; 1 + e
    keeps that relative error (its terms are positive) plus u; the division u:
    |err| <= gamma_4 |y|. Where exp(-x) overflows y underflows: the smallest normal number
    is absolute slack.
    out = 0.5 * (1 + tanh(x / 2)): x / 2 and 0.5 * are exact; tanh within 2u relatively,
    |t| <= 1, so t is off by 2u absolutely; 1 + t rounds (u (1 + t) = 2u y): |err| <=
    u + u y <= gamma_2, absolute (relatively large where y -> 0: 1 + t cancels).
    The bound is the sum of the two, so it holds for either formula.
    dx = dout * y * (1 - y): y's 4u reach 1 - y as 4u*y absolutely (large where y -> 1:
    1 - y cancels), plus three roundings: gamma_8 |dout| |y|; y's absolute gamma_2 (tanh
    form) moves y (1 - y) by |1 - 2y| gamma_2 to first order, and so does dout * 0.25 *
    (1 - t^2) with t off by 2u|t|: |dout| |1 - 2y| gamma_3 more; plus the slack.
    """
    x, dout = _t(a["x"], grad=True), _t(a["dout"])
    y = torch.sigmoid(x)
    (dx,) = torch.autograd.grad(y, [x], dout)
    Y, D = _np(y), np.abs(_f64(a["dout"]))
    d = case.dtype
    slack = SAFETY * UNDERFLOW[d]
    return {
        "out": Expected("forward", _np(y), SAFETY * (gamma(4, d) * Y + gamma(2, d)) + slack),
        "dx": Expected("backward", _np(dx), SAFETY * (gamma(8, d) * Y + gamma(3, d)
                                                      * np.abs(1 - 2 * Y)) * D + slack * D),
    }


# --- normalizations -------------------------------------------------------------------


def _groups(case: Case, x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """x arranged so that the statistics run over `axes`, and those axes."""
    if case.layer == "batchnorm":
        return x.reshape(x.shape[0], -1), (0,)
    if case.layer == "spatialbn":
        return x, (0, 2, 3)
    if case.layer == "layernorm":
        return x, (1,)
    return x.reshape(x.shape[0], case.groups, -1), (2,)


def stat_errors(x: np.ndarray, axes: tuple[int, ...], d: str) -> tuple[np.ndarray, ...]:
    """(mu, var, err_mu, err_var) per statistic group of m values (keepdims): err_var bounds
    every variance formula students use, so it is the largest of their bounds.

    mean: m - 1 additions and one division: err_mu <= gamma_{m+1} mean|x|.
    variance, two-pass (np.var, mean((x - mu)**2)): sum((x - mu_hat)^2) = sum((x - mu)^2) +
    m*err_mu^2 exactly (the cross term sums to zero), each square and difference rounds:
    err_var <= gamma_{m+3} var + err_mu^2. Welford's update (PyTorch's) is bounded with the
    condition number |mu|/sqrt(var) in the same gamma: the term gamma_{m+3} |mu| sqrt(var)
    covers it.
    variance, one pass (mean(x**2) - mu**2): mean(x^2) sums m rounded squares of one sign
    and divides, so its error is at most gamma_{m+1} E[x^2] = gamma_{m+1} (var + mu^2);
    mu_hat^2, with mu_hat = mu + delta, |delta| <= err_mu, is off by 2 |mu| err_mu +
    err_mu^2 plus its own rounding u (|mu| + err_mu)^2; the subtraction rounds once more
    (u var): err_var <= gamma_{m+3} (var + mu^2) + 2 |mu| err_mu + 2 err_mu^2. This is the
    cancellation: where |mu| >> sqrt(var) the error grows like mu^2, not var.
    np.std squared back (np.std(x)**2): the root and the square round 3 more times:
    gamma_3 var more.
    """
    m = math.prod(x.shape[i] for i in axes)
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    e_mu = gamma(m + 1, d) * np.abs(x).mean(axis=axes, keepdims=True)
    two_pass = gamma(m + 3, d) * (var + np.abs(mu) * np.sqrt(var)) + e_mu**2
    one_pass = gamma(m + 3, d) * (var + mu**2) + 2 * np.abs(mu) * e_mu + 2 * e_mu**2
    e_var = np.maximum(two_pass, one_pass) + gamma(3, d) * var
    return mu, var, e_mu, e_var


def _normalized_errors(x: np.ndarray, mu, var, e_mu, e_var, eps: float, d: str):
    """(sigma, xn, rho_sigma, err_xn) for xn = (x - mu) / sqrt(var + eps).

    sigma = sqrt(var + eps): var's error halves under the root, plus the rounding of eps
    and of the sum and the root: rho_sigma <= (err_var + u (var + eps)) / (2 (var + eps)) + u.
    xn centred first, (x - mu) / sigma or (x - mu) * (1 / sigma): the difference (u), a
    division or a reciprocal and a product (2u), err_mu and sigma's relative error:
    (3u |x - mu| + err_mu) / sigma + rho_sigma |xn|.
    xn centred after, x / sigma - mu / sigma: each quotient rounds (u |x| / sigma and
    u |mu| / sigma, once more for a reciprocal) before the difference cancels:
    2u (|x| + |mu|) / sigma more. err_xn is the sum, so it bounds both orders.
    """
    u = UNIT_ROUNDOFF[d]
    s2 = var + eps
    sigma = np.sqrt(s2)
    rho = (e_var + u * s2) / (2 * s2) + u
    xn = (x - mu) / sigma
    after = 2 * u * (np.abs(x) + np.abs(mu)) / sigma
    err_xn = (3 * u * np.abs(x - mu) + e_mu) / sigma + after + rho * np.abs(xn)
    return sigma, xn, rho, err_xn


def _norm_module(case: Case, D: int) -> nn.Module:
    eps = case.eps_value
    if case.layer == "batchnorm":
        return nn.BatchNorm1d(D, eps=eps, momentum=1 - MOMENTUM, dtype=F64)
    if case.layer == "spatialbn":
        return nn.BatchNorm2d(D, eps=eps, momentum=1 - MOMENTUM, dtype=F64)
    if case.layer == "layernorm":
        return nn.LayerNorm(D, eps=eps, dtype=F64)
    return nn.GroupNorm(case.groups, D, eps=eps, dtype=F64)


def _running_truth(case: Case, a: dict) -> Truth:
    """Running statistics: the curricula's update over every batch, zeros at the start.

    Each step: running = m * running + (1 - m) * stat. The coefficients m and 1 - m round
    (up to 4u each, 1 - m computed in the dtype), the two products and the sum round:
    E_s = m E_{s-1} + (1 - m) err_stat + gamma_7 (m |running| + (1 - m) |stat|)
    (the seventh u: running statistics kept in float64 and stored as float32).
    In test mode the running statistics are inputs and must come back unchanged.
    """
    if not case.train:
        return {k: Expected("forward", _f64(a[k]), np.zeros(a[k].shape))
                for k in ("running_mean", "running_var")}
    d = case.dtype
    batches = [*(list(a["xs"]) if "xs" in a else []), a["x"]]
    D = norm_features(case)
    rm, rv = torch.zeros(D, dtype=F64), torch.zeros(D, dtype=F64)
    em, ev = np.zeros(D), np.zeros(D)
    g7 = gamma(7, d)
    for xb in batches:
        xg, axes = _groups(case, _f64(xb))
        xt = _t(xg)
        mu = xt.mean(dim=axes)
        var = xt.var(dim=axes, unbiased=False)  # the curricula's: biased
        _, _, e_mu, e_var = stat_errors(xg, axes, d)
        em = MOMENTUM * em + (1 - MOMENTUM) * e_mu.reshape(-1) + g7 * (
            MOMENTUM * np.abs(_np(rm)) + (1 - MOMENTUM) * np.abs(_np(mu)))
        ev = MOMENTUM * ev + (1 - MOMENTUM) * e_var.reshape(-1) + g7 * (
            MOMENTUM * np.abs(_np(rv)) + (1 - MOMENTUM) * np.abs(_np(var)))
        rm = MOMENTUM * rm + (1 - MOMENTUM) * mu
        rv = MOMENTUM * rv + (1 - MOMENTUM) * var
    return {"running_mean": Expected("forward", _np(rm), SAFETY * em),
            "running_var": Expected("forward", _np(rv), SAFETY * ev)}


def normalization(case: Case, a: dict) -> Truth:
    """nn.BatchNorm1d/2d (train or eval), nn.LayerNorm, nn.GroupNorm with gamma and beta.

    out = gamma * xn + beta: err_out <= |gamma| err_xn + gamma_2 (|gamma xn| + |beta|), and
    where it is fused as x * s + (beta - mu * s) with s = gamma / sigma (PyTorch's CPU
    kernels, the float64 truth included): gamma_4 |gamma| (|x| + |mu|) / sigma more.
    Training backward, with g = gamma * dout and means over each statistic group:
    dx = (g - mean(g) - xn * mean(g xn)) / sigma. Its magnitude, summing every term any
    of the usual forms (the closed form, the notes' staged dstd/dvar/dmu chain, CS231n's
    _alt) adds: T = |g| + mean|g| + |xn| (mean|g xn| + |M|) + mean|xn| |M|, M = mean(g xn);
    err_dx <= ((gamma_{m+6} + rho_sigma) T + err_xn |M| + |xn| mean(|g| err_xn)
    + mean(err_xn) |M|) / sigma. Test mode: dx = g / sigma with the given running
    variance: err <= (gamma_3 + rho_sigma) |g| / sigma.
    dgamma = sum(dout xn) over n terms: gamma_{n+1} sum|dout xn| + sum(|dout| err_xn);
    dbeta = sum(dout): gamma_n sum|dout|.
    """
    d = case.dtype
    X, G, B, Dout = (_f64(a[k]) for k in ("x", "gamma", "beta", "dout"))
    D = norm_features(case)
    m_ = _norm_module(case, D)
    with torch.no_grad():
        m_.weight.copy_(_t(G))
        m_.bias.copy_(_t(B))
    bn = case.layer in registry.batch_norms()
    if bn and not case.train:
        m_.eval()
        with torch.no_grad():
            m_.running_mean.copy_(_t(a["running_mean"]))
            m_.running_var.copy_(_t(a["running_var"]))
    flat = case.layer == "batchnorm"
    x = _t(X.reshape(X.shape[0], -1) if flat else X, grad=True)
    y = m_(x)
    dx, dg, db = torch.autograd.grad(y, [x, m_.weight, m_.bias], _t(Dout).reshape(y.shape))
    # bounds, per statistic group
    bshape = (1, D) + (1,) * (X.ndim - 2) if not flat else (1, D)
    Gb, Bb = G.reshape(bshape), B.reshape(bshape)
    x2 = X.reshape(X.shape[0], -1) if flat else X
    d2 = Dout.reshape(x2.shape)
    eps = case.eps_value
    if bn and not case.train:
        mu = _f64(a["running_mean"]).reshape(bshape)
        var = _f64(a["running_var"]).reshape(bshape)
        sigma, xn, rho, err_xn = _normalized_errors(x2, mu, var, 0.0, 0.0, eps, d)
        fused = (np.abs(x2) + np.abs(mu)) / sigma
        g = Gb * d2
        err_dx = (gamma(3, d) + rho) * np.abs(g) / sigma
    else:
        xg, axes = _groups(case, x2)
        mu, var, e_mu, e_var = stat_errors(xg, axes, d)
        sigma, xn, rho, err_xn = _normalized_errors(xg, mu, var, e_mu, e_var, eps, d)
        fused = ((np.abs(xg) + np.abs(mu)) / sigma).reshape(x2.shape)
        m = math.prod(xg.shape[i] for i in axes)
        g = (Gb * d2).reshape(xg.shape)
        M = (g * xn).mean(axis=axes, keepdims=True)
        ag, axn = np.abs(g), np.abs(xn)
        T = (ag + ag.mean(axis=axes, keepdims=True)
             + axn * ((ag * axn).mean(axis=axes, keepdims=True) + np.abs(M))
             + axn.mean(axis=axes, keepdims=True) * np.abs(M))
        err_dx = ((gamma(m + 6, d) + rho) * T + err_xn * np.abs(M)
                  + axn * (ag * err_xn).mean(axis=axes, keepdims=True)
                  + err_xn.mean(axis=axes, keepdims=True) * np.abs(M)) / sigma
        xn, err_xn, err_dx = (v.reshape(x2.shape) for v in (xn, err_xn, err_dx))
    err_out = (np.abs(Gb) * err_xn + gamma(2, d) * (np.abs(Gb * xn) + np.abs(Bb))
               + gamma(4, d) * np.abs(Gb) * fused)
    sum_axes = tuple(i for i in range(x2.ndim) if i != 1)
    n = math.prod(x2.shape[i] for i in sum_axes)
    ad = np.abs(d2)
    err_dg = gamma(n + 1, d) * (ad * np.abs(xn)).sum(axis=sum_axes) + (ad * err_xn).sum(
        axis=sum_axes)
    err_db = gamma(n, d) * ad.sum(axis=sum_axes)
    truth = {
        "out": Expected("forward", _np(y).reshape(X.shape), SAFETY * err_out.reshape(X.shape)),
        "dx": Expected("backward", _np(dx).reshape(X.shape), SAFETY * err_dx.reshape(X.shape)),
        "dgamma": Expected("backward", _np(dg), SAFETY * err_dg),
        "dbeta": Expected("backward", _np(db), SAFETY * err_db),
    }
    if bn:
        truth.update(_running_truth(case, a))
    return truth


# --- local response normalization --------------------------------------------------------


def _window_sum(v: np.ndarray, before: int, after: int) -> np.ndarray:
    """s[:, c] = sum of v[:, c - before .. c + after] (zeros past the edges)."""
    C = v.shape[1]
    s = np.zeros_like(v)
    for off in range(-before, after + 1):
        lo, hi = max(0, -off), min(C, C - off)
        if lo < hi:
            s[:, lo:hi] += v[:, lo + off:hi + off]
    return s


def lrn(case: Case, a: dict) -> Truth:
    """nn.LocalResponseNorm(size, alpha, beta, k): out = x / (k + alpha/n * S)^beta.

    S, the n squares of the channel window: gamma_n S. alpha/n (alpha rounded, then
    divided: 2u) times S (u): err(aS) <= gamma_{n+3} aS; D = k + aS: err_D <= gamma_{n+3} aS
    + u |k| + u |D|. D^beta: beta err_D / D relatively plus pow's own 2u, or
    2u (1 + |beta log D|) where it is formed as exp(beta log D); the division u:
    rho = beta err_D / D + (3 + 2 |beta log D|) u and err_out <= rho |out|.
    dx_j = dout_j / D_j^beta - (2 alpha beta / n) x_j sum_{c: j in window(c)} dout_c out_c / D_c:
    the first term carries rho_j + u; each summand rho_c + err_D_c / D_c + 3u, the window
    sum gamma_n, the constant 3u and the product with x_j u:
    err_dx <= (rho_j + u) T1 + c |x_j| sum(|dout_c out_c / D_c| (rho_c + err_D_c / D_c
    + gamma_{n+7})) + u (T1 + T2), with T1, T2 the magnitudes of the two terms.
    """
    n, alpha, beta, k = case.lrn
    d = case.dtype
    X, Dout = _f64(a["x"]), _f64(a["dout"])
    x = _t(X, grad=True)
    y = nn.LocalResponseNorm(n, alpha, beta, k)(x)
    (dx,) = torch.autograd.grad(y, [x], _t(Dout))
    u = UNIT_ROUNDOFF[d]
    before, after = n // 2, (n - 1) // 2
    aS = alpha / n * _window_sum(X * X, before, after)
    D = k + aS
    err_D = gamma(n + 3, d) * aS + u * abs(k) + u * np.abs(D)
    rho = beta * err_D / np.abs(D) + (3 + 2 * np.abs(beta * np.log(np.abs(D)))) * u
    out = X / D**beta
    T1 = np.abs(Dout) / np.abs(D) ** beta
    c = 2 * alpha * beta / n
    h = np.abs(Dout * out / D)
    T2 = c * np.abs(X) * _window_sum(h, after, before)
    inner = _window_sum(h * (rho + err_D / np.abs(D) + gamma(n + 7, d)), after, before)
    err_dx = (rho + u) * T1 + c * np.abs(X) * inner + u * (T1 + T2)
    return {
        "out": Expected("forward", _np(y), SAFETY * rho * np.abs(out)),
        "dx": Expected("backward", _np(dx), SAFETY * err_dx),
    }


# --- SVM loss -------------------------------------------------------------------------------


def svm(case: Case, a: dict) -> Truth:
    """CS231n's svm_loss: nn.MultiMarginLoss (margin 1, p 1, mean) times C.

    Each margin x_ij - x_iy + 1 rounds twice: 2u (|x_ij| + |x_iy| + 1), and max(0, .) is
    1-Lipschitz, so that holds after it too; the sum of the N (C - 1) positive margins adds
    gamma_{N C} of their sum and the division by N u: err_loss <= (gamma_{NC+1} sum pos
    + 2u sum_{j != y} (|x_ij| + |x_iy| + 1)) / N. dx is a count times dout / N: dout / N
    and the product round, err_dx <= gamma_3 |dx| (a margin within rounding of zero could
    flip; normal inputs put none there).
    """
    d = case.dtype
    X = _f64(a["x"])
    N, C = X.shape
    labels = np.asarray(a["t"])
    x, dout = _t(X, grad=True), _t(a["dout"])
    loss = nn.MultiMarginLoss()(x, torch.as_tensor(labels, dtype=torch.long)) * C
    (dx,) = torch.autograd.grad(loss, [x], dout)
    rows = np.arange(N)
    xy = X[rows, labels][:, None]
    margins = X - xy + 1
    other = np.ones_like(X, dtype=bool)
    other[rows, labels] = False
    pos = np.where(other & (margins > 0), margins, 0.0).sum()
    u = UNIT_ROUNDOFF[d]
    spread = np.where(other, np.abs(X) + np.abs(xy) + 1, 0.0).sum()
    err_loss = (gamma(N * C + 1, d) * pos + 2 * u * spread) / max(N, 1)
    DX = _np(dx)
    return {
        "loss": Expected("forward", _np(loss), np.asarray(SAFETY * err_loss)),
        "dx": Expected("backward", DX, SAFETY * gamma(3, d) * np.abs(DX)),
    }


# --- dropout ----------------------------------------------------------------------------------


def dropout(case: Case, a: dict) -> Truth:
    """Test mode; nothing in training (its truth needs the implementation's mask, so
    reference/dropout_judge.py builds it after the run).

    The notes' test output is x * (1 - ratio): 1 - ratio rounds once to the dtype and the
    product once, err <= gamma_2 |out|; CS231n's (inverted) is x itself, exact; dx likewise.
    """
    if case.train:
        return {}
    d = case.dtype
    X, Dout = _f64(a["x"]), _f64(a["dout"])
    keep = 1.0 - case.rate if case.layer == "dropout" else 1.0
    k = 0 if keep == 1.0 else 2
    x = _t(X, grad=True)
    y = x * keep  # F.dropout in eval mode is the identity; the notes scale by 1 - ratio
    (dx,) = torch.autograd.grad(y, [x], _t(Dout))
    truth = {"out": Expected("forward", _np(y), SAFETY * gamma(k, d) * np.abs(_np(y)))
             if k else Expected("forward", _np(y), np.zeros(X.shape))}
    if case.layer == "invdropout":
        truth["dx"] = Expected("backward", _np(dx), np.zeros(X.shape))
    return truth


REFERENCES = {
    "sigmoid": sigmoid, "batchnorm": normalization, "spatialbn": normalization,
    "layernorm": normalization, "groupnorm": normalization, "lrn": lrn, "svm": svm,
    "dropout": dropout, "invdropout": dropout,
}
