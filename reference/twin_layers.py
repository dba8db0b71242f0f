"""Twin modules for local response normalization, dropout with injected masks and batch
normalization, each with its part of the whole-network error bound.

`reference.convnet.twin` builds these from the notes-style layers; `reference.convnet`'s
bound propagation calls `bound_forward(b, a, e)` (error bound of the output, given the
input a and the bound e on its error) and `bound_backward(b, a, e, g, eg)` (bounds on dx
and on the parameter gradients, given the upstream gradient g and its bound eg). `b.r(k,
mag)` is SAFETY * gamma_k * mag. All bounds are first order in u, like the rest of
reference/convnet.py. Derivations:

**Dropout** (mask injected: the NumPy net's keep mask for the step). Train: y = x * mask *
s with s = 1 (the notes: not inverted) or 1/keep (inverted); multiplying by a 0/1 mask is
exact, the scale costs up to 2 roundings (mask/keep, then the product). Eval: y = x * t,
t = 1 - ratio (notes) or 1 (inverted). Errors pass through times mask * s (or t).

**LRN** (nn.LocalResponseNorm(n, alpha, beta, k)): S_c = k + alpha/n * sum_{c' in win(c)}
a_c'^2 with win(c) = c - n//2 .. c + (n-1)//2 (zeros outside), y = a * S^-beta.
S is a sum of positive terms: n squares, n - 1 additions, the division by n, the product
with alpha and the addition of k give relative error gamma_{n+3}; pow multiplies a
relative error by beta and adds its own (counted as 2 ulps); the last division adds one:
K_f = ceil(beta (n + 3)) + 3 and rounding gamma_{K_f} |y|. Input error:
|dy_c| <= e_c S_c^-beta + (2 alpha beta / n) |a_c| S_c^(-beta-1) sum_win(c) |a| e.
Backward: dx_c = g_c S_c^-beta - (2 alpha beta / n) a_c sum_{c': c in win(c')} g a S^(-beta-1)
(the transposed window). Rounding gamma_{K_f + n + 4} on the same expression in
magnitudes; the upstream error eg passes through the same expression; the activation
error e moves S by ES = (2 alpha / n) sum_win |a| e, hence the terms
|g| beta S^(-beta-1) ES and (2 alpha beta / n) [e T + |a| sum_T(|g| e S^(-beta-1)
+ |g a| (beta + 1) S^(-beta-2) ES)] with T the transposed-window sum of |g a| S^(-beta-1).

**Batch normalization** (per column of a 2-D view X (M, D): the notes flatten a 4-D input
per sample, D = C*H*W; the spatial variant makes rows of (N, H, W) and columns of C).
Train: mu = mean(a), d = a - mu, var = mean(d^2), s = sqrt(var + eps), xh = d / s,
y = gamma xh + beta. Rounding, carried through in that order:
dmu = gamma_{M+1} mean|a|; dd = dmu + u|d|; dvar = gamma_{M+2} var + 2 mean(|d| dd);
ds = (dvar + u (var + eps)) / 2s + u s; dxh = dd/s + |d| ds/s^2 + u|xh|;
dy = |gamma| dxh + gamma_2 (|gamma xh| + |beta|). Input error (the exact Jacobian of the
normalization, in magnitudes): dxh_e = (e + mean e)/s + |xh| mean(|xh| e)/s, and
ds_e = mean(|d| e)/s. Backward, dx = (gamma/s)(g - mean g - xh mean(g xh)) (the notes'
chain through dstd and dvar adds the term mean|xh| mean|g xh| to the magnitudes):
rounding gamma_{M+8} on those magnitudes, eg through the same linear map, and the forward
errors of s and xh through its coefficients; dgamma = sum g xh, dbeta = sum g, M-term sums.
Running statistics after the step (notes' momentum m, biased variance):
rm' = m rm + (1 - m) mu, rv' = m rv + (1 - m) var, bounded by (1 - m) times mu's and
var's total errors plus gamma_3 on the magnitudes. Eval: y = gamma (a - rm)/sqrt(rv + eps)
+ beta, six roundings on |gamma| (|a| + |rm|)/s + |beta|, errors times |gamma|/s.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as Fn
from torch import nn


class InjectedDropout(nn.Module):
    """Dropout whose keep mask is set from outside before each training forward."""

    def __init__(self, ratio: float, inverted: bool = False):
        super().__init__()
        if not 0 <= ratio < 1:
            raise ValueError(f"dropout ratio must be in [0, 1), got {ratio!r}")
        self.ratio = float(ratio)
        self.inverted = inverted
        self.mask: torch.Tensor | None = None

    def scale(self) -> float:
        """The factor kept values are multiplied by in the current mode."""
        if self.training:
            return 1 / (1 - self.ratio) if self.inverted else 1.0
        return 1.0 if self.inverted else 1 - self.ratio

    def _mask(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return torch.ones_like(x)
        if self.mask is None or tuple(self.mask.shape) != tuple(x.shape):
            got = None if self.mask is None else tuple(self.mask.shape)
            raise ValueError(f"dropout twin: no injected mask for input {tuple(x.shape)} "
                             f"(mask {got}); copy the NumPy layer's mask first")
        return self.mask.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale()
        y = x * self._mask(x)
        return y * s if s != 1 else y

    def bound_forward(self, b, a, e):
        f = self._mask(a) * self.scale()
        return e * f + b.r(0 if self.scale() == 1 else 2, a.abs() * f)

    def bound_backward(self, b, a, e, g, eg):
        f = self._mask(a) * self.scale()
        G = g.abs() + eg
        return eg * f + b.r(0 if self.scale() == 1 else 2, G * f), []


def _win(v: torch.Tensor, n: int, transpose: bool = False) -> torch.Tensor:
    """Sum over the LRN channel window c - n//2 .. c + (n-1)//2 (or its transpose)."""
    lo, hi = n // 2, (n - 1) // 2
    if transpose:
        lo, hi = hi, lo
    C = v.shape[1]
    p = Fn.pad(v, (0, 0, 0, 0, lo, hi))
    out = p[:, 0:C].clone()
    for j in range(1, n):
        out += p[:, j:j + C]
    return out


class LRNTwin(nn.LocalResponseNorm):
    """nn.LocalResponseNorm with its error bound."""

    def _parts(self, a: torch.Tensor):
        n, al, be = self.size, self.alpha, self.beta
        S = self.k + al / n * _win(a * a, n)
        kf = math.ceil(be * (n + 3)) + 3
        return n, al, be, S, kf

    def bound_forward(self, b, a, e):
        n, al, be, S, kf = self._parts(a)
        prop = e * S ** -be + (2 * al * be / n) * a.abs() * S ** (-be - 1) * _win(a.abs() * e, n)
        return prop + b.r(kf, a.abs() * S ** -be)

    def bound_backward(self, b, a, e, g, eg):
        n, al, be, S, kf = self._parts(a)
        G, A = g.abs() + eg, a.abs()
        c = 2 * al * be / n
        Sb, Sb1 = S ** -be, S ** (-be - 1)

        def lin(u):  # the backward map on magnitudes
            return u * Sb + c * A * _win(u * A * Sb1, n, transpose=True)

        ES = (2 * al / n) * _win(A * e, n)
        T = _win(G * A * Sb1, n, transpose=True)
        from_e = (G * be * Sb1 * ES
                  + c * (e * T + A * _win(G * e * Sb1 + G * A * (be + 1) * S ** (-be - 2) * ES,
                                          n, transpose=True)))
        return lin(eg) + b.r(kf + n + 4, lin(G)) + from_e, []


class BatchNormTwin(nn.Module):
    """Batch normalization, PyTorch's kernel (Fn.batch_norm), the notes' running statistics.

    momentum is the notes' (running = momentum * running + (1 - momentum) * batch; PyTorch's
    momentum 0.1 is the notes' 0.9), the running variance is the biased batch variance
    (PyTorch keeps the unbiased one), eps sits inside the square root. `spatial`: one
    statistic per channel of a 4-D input (nn.BatchNorm2d); otherwise a 4-D input is
    flattened per sample (the notes' BatchNormalization).
    """

    def __init__(self, gamma: torch.Tensor, beta: torch.Tensor, momentum: float, eps: float,
                 running_mean: torch.Tensor, running_var: torch.Tensor, spatial: bool = False):
        super().__init__()
        self.weight = nn.Parameter(gamma.clone())
        self.bias = nn.Parameter(beta.clone())
        self.register_buffer("running_mean", running_mean.clone())
        self.register_buffer("running_var", running_var.clone())
        self.momentum, self.eps, self.spatial = float(momentum), float(eps), spatial

    def to2d(self, x: torch.Tensor) -> torch.Tensor:
        """The (rows, features) view the statistics run over."""
        if x.ndim == 2:
            return x
        if self.spatial:
            return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
        return x.reshape(x.shape[0], -1)

    def from2d(self, y: torch.Tensor, shape) -> torch.Tensor:
        if len(shape) == 2:
            return y
        if self.spatial:
            N, C, H, W = shape
            return y.reshape(N, H, W, C).permute(0, 3, 1, 2)
        return y.reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x2 = self.to2d(x)
        if x2.shape[1] != self.weight.shape[0]:
            raise ValueError(f"batch norm twin: {x2.shape[1]} features, gamma has "
                             f"{self.weight.shape[0]}")
        if self.training:
            y2 = Fn.batch_norm(x2, None, None, self.weight, self.bias, True, 0.0, self.eps)
            with torch.no_grad():
                self.before = (self.running_mean.clone(), self.running_var.clone())
                mu = x2.mean(0)
                var = ((x2 - mu) ** 2).mean(0)
                m = self.momentum
                self.running_mean.copy_(m * self.running_mean + (1 - m) * mu)
                self.running_var.copy_(m * self.running_var + (1 - m) * var)
        else:
            y2 = Fn.batch_norm(x2, self.running_mean, self.running_var, self.weight,
                               self.bias, False, 0.0, self.eps)
        return self.from2d(y2, x.shape)

    # -- bounds ---------------------------------------------------------------------------

    def _train_parts(self, b, a, e) -> dict:
        a2, e2 = self.to2d(a), self.to2d(e)
        M = a2.shape[0]
        mu = a2.mean(0)
        d = a2 - mu
        var = (d * d).mean(0)
        s = (var + self.eps).sqrt()
        xh = d / s
        D = d.abs()
        dmu = b.r(M + 1, a2.abs().mean(0))
        dd = dmu + b.r(1, D)
        dvar = b.r(M + 2, var) + 2 * (D * dd).mean(0)
        ds_r = (dvar + b.r(1, var + self.eps)) / (2 * s) + b.r(1, s)
        dxh_r = dd / s + D * ds_r / s ** 2 + b.r(1, xh.abs())
        ds_e = (D * e2).mean(0) / s
        dxh_e = (e2 + e2.mean(0) + xh.abs() * (xh.abs() * e2).mean(0)) / s
        return dict(a2=a2, e2=e2, M=M, mu=mu, var=var, s=s, xh=xh, dmu=dmu + e2.mean(0),
                    dvar=dvar + 2 * (D * e2).mean(0), ds=ds_r + ds_e, dxh=dxh_r + dxh_e)

    def stat_bounds(self, b, a, e) -> tuple[torch.Tensor, torch.Tensor]:
        """Bounds on the running mean and variance after a training forward on a."""
        p = self._train_parts(b, a, e)
        m = self.momentum
        rm, rv = getattr(self, "before", (self.running_mean, self.running_var))
        return ((1 - m) * p["dmu"] + b.r(3, m * rm.abs() + (1 - m) * p["mu"].abs()),
                (1 - m) * p["dvar"] + b.r(3, m * rv.abs() + (1 - m) * p["var"]))

    def bound_forward(self, b, a, e):
        ga, be = self.weight.detach().abs(), self.bias.detach().abs()
        if not self.training:
            a2, e2 = self.to2d(a), self.to2d(e)
            s = (self.running_var + self.eps).sqrt()
            mag = ga * (a2.abs() + self.running_mean.abs()) / s + be
            return self.from2d(e2 * ga / s + b.r(6, mag), a.shape)
        p = b.memo[id(self)] = self._train_parts(b, a, e)
        out = ga * p["dxh"] + b.r(2, ga * p["xh"].abs() + be)
        return self.from2d(out, a.shape)

    def bound_backward(self, b, a, e, g, eg):
        ga = self.weight.detach().abs()
        g2, eg2 = self.to2d(g), self.to2d(eg)
        G = g2.abs() + eg2
        if not self.training:
            a2, e2 = self.to2d(a), self.to2d(e)
            s = (self.running_var + self.eps).sqrt()
            M = a2.shape[0]
            xh = (a2 - self.running_mean) / s
            dx = eg2 * ga / s + b.r(4, G * ga / s)
            dgamma = (b.r(M + 5, (G * (a2.abs() + self.running_mean.abs()) / s).sum(0))
                      + (G * e2 / s).sum(0) + (eg2 * xh.abs()).sum(0))
            dbeta = b.r(M, G.sum(0)) + eg2.sum(0)
            return self.from2d(dx, a.shape), [dgamma, dbeta]
        p = b.memo.get(id(self)) or self._train_parts(b, a, e)
        M, s, X = p["M"], p["s"], p["xh"].abs()

        def lin(u):  # |dx| as a linear map of the upstream magnitudes u
            return ga / s * (u + u.mean(0) + (X + X.mean(0)) * (u * X).mean(0))

        dx = (lin(eg2) + b.r(M + 8, lin(G))
              + ga * p["ds"] / s ** 2 * (G + G.mean(0) + (X + X.mean(0)) * (G * X).mean(0))
              + ga / s * (p["dxh"] * (G * X).mean(0) + (X + X.mean(0)) * (G * p["dxh"]).mean(0)
                          + p["dxh"].mean(0) * (G * X).mean(0)))
        dgamma = b.r(M + 1, (G * X).sum(0)) + (G * p["dxh"]).sum(0) + (eg2 * X).sum(0)
        dbeta = b.r(M, G.sum(0)) + eg2.sum(0)
        return self.from2d(dx, a.shape), [dgamma, dbeta]
