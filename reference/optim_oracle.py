"""The truth for optimizer cases: parameters (and CS231n's state) after every step, in float64,
with an elementwise error bound for an implementation working in the case's dtype.

Where a curriculum's formula coincides with torch.optim, torch.optim gives the values:

- SGD (both):              torch.optim.SGD(lr).
- Momentum (both):         v = momentum*v - lr*g; p += v. torch.optim.SGD(lr, momentum) keeps
                           buf = momentum*buf + g and does p -= lr*buf: the same with v = -lr*buf
                           (lr constant). CS231n's config['velocity'] is judged as -lr*buf.
- AdaGrad (the notes):     h += g*g; p -= lr*g / (sqrt(h) + 1e-7): torch.optim.Adagrad's own
                           placement (eps outside the root); only its default eps (1e-10) differs,
                           so it runs with eps=1e-7, lr_decay=0, initial_accumulator_value=0.
- RMSprop (both):          h = d*h + (1-d)*g*g; p -= lr*g / (sqrt(h) + eps): torch.optim.RMSprop
                           with alpha=d and the curriculum's eps (notes 1e-7, CS231n 1e-8;
                           torch's default 1e-8). CS231n's config['cache'] is torch's square_avg.
- Adam (CS231n):           t += 1 first; mt = m/(1-b1^t), vt = v/(1-b2^t);
                           p -= lr*mt / (sqrt(vt) + eps): torch.optim.Adam computes
                           lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), the same number in
                           exact arithmetic. m, v, t are torch's exp_avg, exp_avg_sq, step.

Where a curriculum differs, its own formula (evaluated here in float64) is the truth:

- Adam (the notes):        lr_t = lr*sqrt(1-b2^t)/(1-b1^t); p -= lr_t*m / (sqrt(v) + 1e-7).
                           eps is added to the *uncorrected* sqrt(v): this is torch's Adam with
                           eps_t = 1e-7/sqrt(1-b2^t) at step t (31.6x larger at t=1 with
                           b2 = 0.999), not with eps = 1e-7. With gradients of size 1e-5 the two
                           differ by a large fraction of the first step (tests check both).
- Nesterov (the notes):    v = momentum*v - lr*g, then with that new v,
                           p += momentum^2*v - (1+momentum)*lr*g. torch's nesterov=True (and the
                           Bengio et al. form) uses the *old* v there: the two differ by
                           momentum^2*(v_new - v_old) from step 1 on (the notes move by
                           (1 + m + m^2)*lr*g at step 1, torch by (1 + m)*lr*g); the notes'
                           order is judged, torch's is the variant "old_v".

Bounds. u is the unit roundoff of the case's dtype (float64 cases: the truth rounds as often,
which SAFETY covers). Every hyperparameter or constant meets the arrays rounded to the dtype
(one rounding each). Two rules give every recurrence below:

(R1) An expression built from +, -, * of inputs and constants, evaluated in any order with at
     most K roundings, is within gamma_K * f^ of its exact value, where f^ is the expression
     with every input and constant replaced by its absolute value and every - by +
     (Higham, Lemma 3.1 on each monomial: each carries at most K factors (1 + delta)).
     Errors e_i already in the inputs add sum_i |df/dx_i| * e_i (first order).
(R2) For positive quantities relative errors compose: sqrt(x) has rho_x/2 + u, x/y has
     rho_x + rho_y + u; sqrt(h) + eps (both positive) has at most rho_h/2 + gamma_2.

K counts every operation and constant of the longest usual way to write the step, so both
`h *= d; h += (1-d)*g*g` and `h = d*h + (1-d)*g**2`, or `m += (1-b1)*(g-m)` and
`m = b1*m + (1-b1)*g`, are covered (f^ of the latter form is the smaller). With e_p the bound
on a parameter, |.| magnitudes of the float64 truth and s the amount a step subtracts:

  SGD       e_p += gamma_2 lr|g| + gamma_1 (|p| + lr|g|)           [lr, *; then -]
  Momentum  e_v  = m e_v + gamma_5 (m|v| + lr|g|)                 [m, lr, *, *, -]
            e_p += e_v + gamma_1 (|p| + |v_new|)
  Nesterov  e_v as Momentum; e_p += m^2 e_v + gamma_10 (m^2|v_new| + (1+m) lr|g|)
            [m, m, 1+m, lr, four *, one -] + gamma_2 (|p| + |s|) [the notes' two updates of p]
  AdaGrad   e_h += gamma_2 h_new (h_new = h + g^2: positive terms, one * and one +)
  RMSprop   e_h  = d e_h + gamma_6 h_new                          [d, 1-d, three *, +]
            both: rho_D = rho_h/2 + gamma_2 (D = sqrt(h) + eps), s = lr g / D has
            rho_s = rho_D + gamma_3 [lr, *, /]; e_p += rho_s |s| + gamma_1 (|p| + |s|)
  Adam      e_m  = b1 e_m + gamma_5 (|m| + (1-b1)(|g| + |m|))
            e_v  = b2 e_v + gamma_6 (|v| + (1-b2)(g^2 + |v|))
            c_i = 1 - b_i^t is computed in float64 from Python floats: b^t within 2t ulp
            (pow, or a running product), then one subtraction, which cancels:
            rho_c = 2t u64 b^t / (1 - b^t) + u64 (999 u64 at t=1 with b = 0.999), then one
            rounding to the dtype (u).
     notes: lr_t = lr sqrt(c2)/c1 has rho = rho_c2/2 + rho_c1 + 4 u64 + u;
            D = sqrt(v) + eps: rho_D = rho_v/2 + gamma_2; s = lr_t m / D:
            e_s = lr_t e_m / D + |s| (rho_lr_t + rho_D + gamma_2)
    CS231n: mt = m/c1: e_mt = e_m/c1 + |mt| (rho_c1 + gamma_2); vt = v/c2:
            rho_vt = rho_v + rho_c2 + gamma_2; D = sqrt(vt) + eps: rho_D = rho_vt/2 + gamma_2;
            s = lr mt / D: e_s = lr e_mt / D + |s| (rho_D + gamma_3)
            both: e_p += e_s + gamma_1 (|p| + |s|)

The bounds are first order in u; the judged value is within SAFETY * (that bound).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from layercheck.cases.optim_cases import STATE_KEYS, OptimCase, OptimInputs
from layercheck.reference.bounds import SAFETY, UNIT_ROUNDOFF, gamma
from layercheck.reference.diagnosis import OPTIM_VARIANT_WORDS
from layercheck.reference.expected import Expected

if TYPE_CHECKING:
    import torch
U64 = UNIT_ROUNDOFF["f64"]
PHASE = "update"

# Formula variants: single, named departures from the curriculum's rule. The oracle runs them
# for diagnoses (reference/optim_judge.py): a student whose values follow one has that bug.
VARIANTS = OPTIM_VARIANT_WORDS  # their words, kept with their codes in reference/diagnosis.py
RULE_VARIANTS = {
    "sgd": ("ascent", "lr_twice"),
    "momentum": ("ascent", "lr_twice", "state_reset"),
    "nesterov": ("ascent", "lr_twice", "state_reset", "old_v"),
    "adagrad": ("ascent", "lr_twice", "state_reset", "eps_inside_sqrt", "no_sqrt", "no_eps"),
    "rmsprop": ("ascent", "lr_twice", "state_reset", "eps_inside_sqrt", "no_sqrt", "no_eps",
                "decay_swapped"),
    "adam": ("ascent", "lr_twice", "state_reset", "eps_inside_sqrt", "no_eps", "torch_eps",
             "book_eps", "no_bias_correction", "t_frozen", "betas_swapped"),
}


@dataclass
class StepTruth:
    """After one step: each parameter, and (CS231n) each config entry of its state."""

    params: dict[str, Expected] = field(default_factory=dict)
    state: dict[str, dict[str, Expected]] = field(default_factory=dict)


def _rho(err: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Relative error bound err/|value| (0 where both are 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(err == 0, 0.0, err / np.abs(value))


def _rho_c(b: float, t: int) -> float:
    """Relative error of 1 - b**t computed in float64 (see the module docstring)."""
    bt = b**t
    return 2 * t * U64 * bt / (1 - bt) + U64


class _Tracker:
    """One parameter's float64 trajectory under the curriculum's formula (or a variant), with
    the error bounds of the module docstring carried alongside."""

    def __init__(self, case: OptimCase, p0: np.ndarray, variant: str | None = None):
        self.rule, self.api, self.variant = case.rule, case.api, variant
        self.hp = case.hyperparameters()
        self.d = case.dtype
        self.u = UNIT_ROUNDOFF[case.dtype]
        self.p = np.asarray(p0, dtype=np.float64).copy()
        self.ep = np.zeros_like(self.p)
        self.t = 0
        self._reset()

    def _reset(self) -> None:
        z = np.zeros_like(self.p)
        self.a, self.ea = z.copy(), z.copy()  # v (momentum), h (adagrad/rmsprop), m (adam)
        self.b, self.eb = z.copy(), z.copy()  # v (adam)
        self.t = 0

    def g(self, k: int) -> float:
        return gamma(k, self.d)

    def step(self, g: np.ndarray) -> None:
        g = np.asarray(g, dtype=np.float64)
        if self.variant == "state_reset":
            self._reset()
        if self.variant != "t_frozen" or self.t == 0:
            self.t += 1
        lr = self.hp["lr"] ** 2 if self.variant == "lr_twice" else self.hp["lr"]
        p_old = self.p
        s, es = getattr(self, "_" + self.rule)(g, lr)
        self.p = p_old + s if self.variant == "ascent" else p_old - s
        adds = 2 if self.rule == "nesterov" else 1  # the notes: p += ...; p -= ...
        self.ep = self.ep + es + self.g(adds) * (np.abs(p_old) + np.abs(s))

    # each returns the amount subtracted from p, and its error bound
    def _sgd(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        s = lr * g
        return s, self.g(2) * np.abs(s)

    def _velocity(self, g: np.ndarray, lr: float) -> np.ndarray:
        m = self.hp["momentum"]
        v_old = self.a
        self.a = m * v_old - lr * g
        self.ea = m * self.ea + self.g(5) * (m * np.abs(v_old) + lr * np.abs(g))
        return v_old

    def _momentum(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        self._velocity(g, lr)
        return -self.a, self.ea

    def _nesterov(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        m = self.hp["momentum"]
        v_old = self._velocity(g, lr)
        v = v_old if self.variant == "old_v" else self.a
        s = -(m * m * v - (1 + m) * lr * g)
        mag = m * m * np.abs(v) + (1 + m) * lr * np.abs(g)
        return s, m * m * self.ea + self.g(10) * mag

    def _denominator(self, h: np.ndarray, rho_h: np.ndarray, eps: float
                     ) -> tuple[np.ndarray, np.ndarray]:
        """sqrt(h) + eps (or the variant's), and its relative error bound."""
        if self.variant == "eps_inside_sqrt":
            D = np.sqrt(h + eps)
        elif self.variant == "no_sqrt":
            D = h + eps
        elif self.variant == "no_eps":
            with np.errstate(divide="ignore"):
                D = np.sqrt(h)
        else:
            D = np.sqrt(h) + eps
        return D, rho_h / 2 + self.g(2)

    def _scaled(self, g: np.ndarray, lr: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
        D, rho_D = self._denominator(self.a, _rho(self.ea, self.a), eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = lr * g / D
        return s, (rho_D + self.g(3)) * np.abs(s)

    def _adagrad(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        self.a = self.a + g * g
        self.ea = self.ea + self.g(2) * self.a
        return self._scaled(g, lr, self.hp["eps"])

    def _rmsprop(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        d = self.hp["decay_rate"]
        if self.variant == "decay_swapped":
            d = 1 - d
        self.a = d * self.a + (1 - d) * g * g
        self.ea = d * self.ea + self.g(6) * self.a
        return self._scaled(g, lr, self.hp["eps"])

    def _adam(self, g: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        b1, b2, eps, t = self.hp["beta1"], self.hp["beta2"], self.hp["eps"], self.t
        w1, w2 = (b1, b2) if self.variant != "betas_swapped" else (1 - b1, 1 - b2)
        m_old, v_old = self.a, self.b
        self.a = w1 * m_old + (1 - w1) * g
        self.b = w2 * v_old + (1 - w2) * g * g
        self.ea = b1 * self.ea + self.g(5) * (np.abs(m_old) + (1 - b1) * (np.abs(g)
                                                                          + np.abs(m_old)))
        self.eb = b2 * self.eb + self.g(6) * (v_old + (1 - b2) * (g * g + v_old))
        m, v, rho_v = self.a, self.b, _rho(self.eb, self.b)
        c1, c2 = 1 - b1**t, 1 - b2**t
        r1, r2 = _rho_c(b1, t), _rho_c(b2, t)
        if self.variant == "no_bias_correction":
            c1 = c2 = 1.0
        book = self.api == "book"
        if self.variant in ("torch_eps", "book_eps"):
            book = self.variant == "book_eps"
        if book:
            lr_t = lr * np.sqrt(c2) / c1
            D, rho_D = self._denominator(v, rho_v, eps)
            with np.errstate(divide="ignore", invalid="ignore"):
                s = lr_t * m / D
                e_s = lr_t * self.ea / D
            rho_lr = r2 / 2 + r1 + 4 * U64 + self.u
            return s, e_s + np.abs(s) * (rho_lr + rho_D + self.g(2))
        mt = m / c1
        e_mt = self.ea / c1 + np.abs(mt) * (r1 + self.g(2))
        D, rho_D = self._denominator(v / c2, rho_v + r2 + self.g(2), eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = lr * mt / D
            e_s = lr * e_mt / D
        return s, e_s + np.abs(s) * (rho_D + self.g(3))

    def state(self) -> dict[str, tuple[object, object]]:
        """CS231n's config entries (value, bound before SAFETY)."""
        if self.rule == "momentum":
            return {"velocity": (self.a, self.ea)}
        if self.rule == "rmsprop":
            return {"cache": (self.a, self.ea)}
        if self.rule == "adam":
            return {"m": (self.a, self.ea), "v": (self.b, self.eb), "t": (self.t, 0)}
        return {}


def formula_trajectory(case: OptimCase, inputs: OptimInputs, variant: str | None = None
                       ) -> list[StepTruth]:
    """The curriculum's formula (or a variant of it) in float64 for every step, with bounds."""
    trackers = {k: _Tracker(case, p, variant) for k, p in inputs.params.items()}
    out = []
    for grads in inputs.grads:
        st = StepTruth()
        for k, tr in trackers.items():
            tr.step(grads[k])
            st.params[k] = Expected(PHASE, tr.p.copy(), SAFETY * tr.ep)
            if case.api == "cs231n":
                st.state[k] = {name: Expected(PHASE, np.asarray(val, dtype=np.float64),
                                              SAFETY * np.asarray(err, dtype=np.float64))
                               for name, (val, err) in tr.state().items()}
        out.append(st)
    return out


# --- torch.optim where the curriculum's formula coincides ------------------------------


def torch_optimizer(case: OptimCase, tensors: list[torch.Tensor]) -> torch.optim.Optimizer | None:
    """torch.optim configured as the curriculum's rule, or None where they differ."""
    import torch  # only where a truth is computed (cached truths are read without it)

    hp, rule = case.hyperparameters(), case.rule
    if rule == "sgd":
        return torch.optim.SGD(tensors, lr=hp["lr"])
    if rule == "momentum":
        return torch.optim.SGD(tensors, lr=hp["lr"], momentum=hp["momentum"])
    if rule == "adagrad":
        return torch.optim.Adagrad(tensors, lr=hp["lr"], eps=hp["eps"], lr_decay=0.0,
                                   initial_accumulator_value=0.0)
    if rule == "rmsprop":
        return torch.optim.RMSprop(tensors, lr=hp["lr"], alpha=hp["decay_rate"], eps=hp["eps"])
    if rule == "adam" and case.api == "cs231n":
        return torch.optim.Adam(tensors, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                eps=hp["eps"])
    return None


def _torch_state(case: OptimCase, st: dict) -> dict[str, object]:
    if case.rule == "momentum":
        return {"velocity": -case.hyperparameters()["lr"] * st["momentum_buffer"].numpy()}
    if case.rule == "rmsprop":
        return {"cache": st["square_avg"].numpy().copy()}
    if case.rule == "adam":
        return {"m": st["exp_avg"].numpy().copy(), "v": st["exp_avg_sq"].numpy().copy(),
                "t": int(st["step"])}
    return {}


def torch_values(case: OptimCase, inputs: OptimInputs) -> list[dict[str, dict]] | None:
    """Per step: {'params': {name: value}, 'state': {name: {entry: value}}} from torch.optim,
    or None where the curriculum differs from it."""
    import torch

    F64 = torch.float64
    tensors = {k: torch.tensor(np.asarray(p, dtype=np.float64), dtype=F64, requires_grad=True)
               for k, p in inputs.params.items()}
    opt = torch_optimizer(case, list(tensors.values()))
    if opt is None:
        return None
    out = []
    for grads in inputs.grads:
        for k, t in tensors.items():
            t.grad = torch.tensor(np.asarray(grads[k], dtype=np.float64), dtype=F64)
        opt.step()
        out.append({"params": {k: t.detach().numpy().copy() for k, t in tensors.items()},
                    "state": {k: _torch_state(case, opt.state[t]) for k, t in tensors.items()}})
    return out


def truth(case: OptimCase, inputs: OptimInputs) -> list[StepTruth]:
    """The truth for every step: torch.optim's values where the curriculum coincides with it,
    the curriculum's own formula elsewhere; the bounds of the module docstring always."""
    steps = formula_trajectory(case, inputs)
    ref = torch_values(case, inputs)
    if ref is None:
        return steps
    for st, r in zip(steps, ref, strict=True):
        for k, exp in st.params.items():
            exp.value = r["params"][k]
        for k, entries in st.state.items():
            for name in STATE_KEYS[case.rule]:
                entries[name].value = np.asarray(r["state"][k][name], dtype=np.float64)
    return steps
