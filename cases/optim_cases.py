"""Optimizer cases: one update rule, one API, seeded parameters and gradients over several steps.

Only numpy and the standard library are imported here: the adapters run inside the sandbox.
The notes' classes are run as the notes' training loop runs them (one object, `update(params,
grads)` once per step, the same params dict throughout); CS231n's functions as its Solver does
(one config dict per parameter, the returned `next_w` and config handed back at the next step).
"""

from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

RULES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
APIS = ("book", "cs231n")
DTYPES = {"f32": "float32", "f64": "float64"}
# Gradient kinds: "normal" N(0, 1); "small" N(0, 1) * 1e-5, so that eps is not negligible
# beside sqrt(h) (eps placement shows in float32 too); "sparse": a quarter of the entries
# are 0 at every step (a dead unit: h stays 0 and only eps keeps the division finite).
KINDS = ("normal", "small", "sparse")
SMALL = 1e-5

BOOK_CLASS_NAMES = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov",
                    "adagrad": "AdaGrad", "rmsprop": "RMSprop", "adam": "Adam"}
FUNCTION_NAMES = {"sgd": "sgd", "momentum": "sgd_momentum", "rmsprop": "rmsprop",
                  "adam": "adam"}
# Hyperparameters under canonical names (lr, momentum, decay_rate, beta1, beta2, eps), with
# each curriculum's defaults. The notes hard-code eps = 1e-7 (not a constructor argument).
DEFAULTS = {
    "book": {"sgd": {"lr": 0.01}, "momentum": {"lr": 0.01, "momentum": 0.9},
             "nesterov": {"lr": 0.01, "momentum": 0.9}, "adagrad": {"lr": 0.01, "eps": 1e-7},
             "rmsprop": {"lr": 0.01, "decay_rate": 0.99, "eps": 1e-7},
             "adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}},
    "cs231n": {"sgd": {"lr": 1e-2}, "momentum": {"lr": 1e-2, "momentum": 0.9},
               "rmsprop": {"lr": 1e-2, "decay_rate": 0.99, "eps": 1e-8},
               "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}},
}
# Canonical name -> the API's own name (constructor keyword or config key); None: fixed.
API_NAMES = {
    "book": {"lr": "lr", "momentum": "momentum", "decay_rate": "decay_rate", "beta1": "beta1",
             "beta2": "beta2", "eps": None},
    "cs231n": {"lr": "learning_rate", "momentum": "momentum", "decay_rate": "decay_rate",
               "beta1": "beta1", "beta2": "beta2", "eps": "epsilon"},
}
# CS231n keeps its state in the config: the entries judged after each step.
STATE_KEYS = {"sgd": (), "momentum": ("velocity",), "rmsprop": ("cache",),
              "adam": ("m", "v", "t")}


@dataclass(frozen=True)
class OptimCase:
    """One update rule through one API for `steps` steps on `P` parameter arrays.

    `hyper` overrides the curriculum's defaults, as (canonical name, value) pairs; a case
    without overrides checks the defaults themselves (nothing is passed).
    """

    rule: str
    api: str = "book"
    P: int = 3
    steps: int = 5
    dtype: str = "f64"
    kind: str = "normal"
    hyper: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.api not in APIS:
            raise ValueError(f"api must be one of {APIS}, got api={self.api!r}")
        rules = RULES if self.api == "book" else tuple(FUNCTION_NAMES)
        if self.rule not in rules:
            raise ValueError(f"rule must be one of {rules} for {self.api}, got {self.rule!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {self.dtype!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.P < 1 or self.steps < 1:
            raise ValueError(f"P and steps must be >= 1, got P={self.P}, steps={self.steps}")
        known = DEFAULTS[self.api][self.rule]
        for name, _ in self.hyper:
            if name not in known or (name == "eps" and API_NAMES[self.api]["eps"] is None):
                raise ValueError(f"{self.rule} ({self.api}) has no settable {name!r}")

    @property
    def layer(self) -> str:
        """The unit's name in reports and `--layers` (CS231n's sgd_momentum is momentum)."""
        return self.rule

    @property
    def id(self) -> str:
        """Readable id, e.g. ``adam-book-P3-steps5-f64`` or
        ``momentum-cs231n-P2-steps4-lr0.1-momentum0.5-f32-small``."""
        parts = [self.rule, self.api, f"P{self.P}", f"steps{self.steps}"]
        parts += [f"{k}{v:g}" for k, v in self.hyper]
        parts.append(self.dtype)
        if self.kind != "normal":
            parts.append(self.kind)
        return "-".join(parts)

    @property
    def seed(self) -> int:
        """Seed derived from the id: the same id gives the same arrays in any process."""
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "little")

    @property
    def np_dtype(self) -> str:
        return DTYPES[self.dtype]

    def hyperparameters(self) -> dict[str, float]:
        """Every hyperparameter the rule uses, canonical names: defaults, then overrides."""
        return {**DEFAULTS[self.api][self.rule], **dict(self.hyper)}

    def passed_hyperparameters(self) -> dict[str, float]:
        """The overrides under the API's own names (what the adapter passes)."""
        names = API_NAMES[self.api]
        return {names[k]: v for k, v in self.hyper}

    def params(self) -> dict[str, object]:
        """The case's settings as flat columns."""
        return {"rule": self.rule, "api": self.api, "P": self.P, "steps": self.steps,
                "dtype": self.dtype, "kind": self.kind,
                **{f"hp_{k}": v for k, v in self.hyperparameters().items()}}

    def __str__(self) -> str:
        return self.id


def param_shapes(P: int) -> dict[str, tuple[int, ...]]:
    """W1, b1, W2, b2, ... (P arrays) with the layer widths 4, 3, 2, 2, ..."""
    widths = [4, 3] + [2] * P
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(P):
        layer = i // 2 + 1
        if i % 2 == 0:
            shapes[f"W{layer}"] = (widths[layer - 1], widths[layer])
        else:
            shapes[f"b{layer}"] = (widths[layer],)
    return shapes


@dataclass
class OptimInputs:
    """The starting parameters and one dict of gradients per step, in the case's dtype."""

    params: dict[str, np.ndarray]
    grads: list[dict[str, np.ndarray]]


def make_inputs(case: OptimCase, seed: int | None = None) -> OptimInputs:
    """Drawn in float64 from `seed` (default the case's own) and rounded once to its dtype,
    so that the float64 truth starts from exactly the values the implementation sees."""
    rng = np.random.default_rng(case.seed if seed is None else seed)
    dt = case.np_dtype
    shapes = param_shapes(case.P)
    params = {k: rng.standard_normal(s).astype(dt) for k, s in shapes.items()}
    dead = {k: rng.random(s) < 0.25 for k, s in shapes.items()}
    grads = []
    for _ in range(case.steps):
        step = {}
        for k, s in shapes.items():
            g = rng.standard_normal(s)
            if case.kind == "small":
                g *= SMALL
            elif case.kind == "sparse":
                g[dead[k]] = 0.0
            step[k] = g.astype(dt)
        grads.append(step)
    return OptimInputs(params, grads)


# --- adapters --------------------------------------------------------------------------


@dataclass
class OptimRun:
    """What an implementation produced, step by step (raw objects, copied when recorded).

    `params[s][name]`: the parameter after step s+1 (the notes: the array the caller holds,
    which a network's layers share; CS231n: the returned next_w). `state[s][name]`: CS231n's
    config entries after step s+1. `rebound`: (step, name) where the notes' update put a new
    array into params instead of updating the old one. `returned`: what update() returned
    where it returned something.
    """

    params: list[dict[str, Any]] = field(default_factory=list)
    state: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    rebound: list[tuple[int, str]] = field(default_factory=list)
    returned: list[tuple[int, str]] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    error_step: int | None = None
    traceback: str | None = None
    missing: bool = False
    seconds: float | None = None  # the run's own time (set by the grader's worker)

    def record_error(self, step: int, e: BaseException) -> None:
        """Keep the implementation's own exception as data (step, type, text, traceback)."""
        self.error_step, self.error_type = step, type(e).__name__
        self.error = f"{type(e).__name__}: {e}"
        self.traceback = "".join(traceback.format_exception(e, limit=-16))


def _copy(v: Any) -> Any:
    return v.copy() if isinstance(v, np.ndarray) else v


def supports(case: OptimCase, api: str) -> bool:
    """Whether the API has the rule (CS231n has no Nesterov or AdaGrad)."""
    return api == "book" or case.rule in FUNCTION_NAMES


def run_book(mod: ModuleType, case: OptimCase, inputs: OptimInputs) -> OptimRun:
    """Construct the notes' class once, call update(params, grads) once per step."""
    run = OptimRun()
    cls = getattr(mod, BOOK_CLASS_NAMES[case.rule], None)
    if cls is None:
        run.missing = True
        return run
    params = {k: v.copy() for k, v in inputs.params.items()}
    held = dict(params)  # the arrays a network's layers would hold
    step = 0
    try:
        opt = cls(**case.passed_hyperparameters())
        for step, grads in enumerate(inputs.grads, start=1):
            with np.errstate(all="ignore"):  # its NaNs are judged, not warned about
                out = opt.update(params, {k: g.copy() for k, g in grads.items()})
            if out is not None:
                run.returned.append((step, type(out).__name__))
            for k in held:
                if params.get(k) is not held[k]:
                    run.rebound.append((step, k))
            run.params.append({k: held[k].copy() for k in held})
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(max(step, 1), e)
    return run


def run_cs231n(mod: ModuleType, case: OptimCase, inputs: OptimInputs) -> OptimRun:
    """Call the function once per parameter per step, as CS231n's Solver does: a config per
    parameter (the overrides only, so the function's setdefault fills the rest), then the
    returned next_w and config at the next step."""
    run = OptimRun()
    f = getattr(mod, FUNCTION_NAMES.get(case.rule, ""), None)
    if f is None:
        run.missing = True
        return run
    w = {k: v.copy() for k, v in inputs.params.items()}
    configs: dict[str, Any] = {k: case.passed_hyperparameters() for k in w}
    keys = STATE_KEYS[case.rule]
    for step, grads in enumerate(inputs.grads, start=1):
        after: dict[str, Any] = {}
        state: dict[str, dict[str, Any]] = {}
        try:
            for k in w:
                with np.errstate(all="ignore"):  # its NaNs are judged, not warned about
                    result = f(w[k], grads[k].copy(), configs[k])
                if not isinstance(result, tuple | list) or len(result) != 2:
                    raise TypeError(f"{FUNCTION_NAMES[case.rule]} must return (next_w, config),"
                                    f" got {type(result).__name__}")
                next_w, config = result
                if not isinstance(config, dict):
                    raise TypeError(f"{FUNCTION_NAMES[case.rule]} returned a config of type "
                                    f"{type(config).__name__}, expected a dict")
                after[k] = _copy(next_w)
                state[k] = {s: _copy(config.get(s)) for s in keys}
                w[k], configs[k] = next_w, config
        except Exception as e:  # the implementation's own failure, reported as data
            run.record_error(step, e)
            return run
        run.params.append(after)
        run.state.append(state)
        if not all(isinstance(v, np.ndarray) for v in after.values()):
            break  # no array to hand back at the next step
    return run


def run(mod: ModuleType, case: OptimCase, inputs: OptimInputs | None = None) -> OptimRun:
    """Run the case through the API it names."""
    inputs = make_inputs(case) if inputs is None else inputs
    return (run_book if case.api == "book" else run_cs231n)(mod, case, inputs)


def grid(dtypes: tuple[str, ...] = ("f64", "f32"), kinds: tuple[str, ...] = KINDS,
         steps: int = 4, P: int = 2) -> list[OptimCase]:
    """Every rule of both APIs at its defaults, and once with other hyperparameters."""
    others = {"lr": 0.05, "momentum": 0.5, "decay_rate": 0.9, "beta1": 0.8, "beta2": 0.99,
              "eps": 1e-6}
    cases = []
    for api in APIS:
        for rule, defaults in DEFAULTS[api].items():
            settable = tuple((k, others[k]) for k in defaults
                             if k != "eps" or API_NAMES[api]["eps"] is not None)
            for dtype in dtypes:
                for kind in kinds:
                    cases.append(OptimCase(rule, api, P, steps, dtype, kind))
                cases.append(OptimCase(rule, api, P, steps, dtype, "normal", settable))
    return cases


# --- the worker's wire format ----------------------------------------------------------
# An optimizer case travels as its fields; its run comes back as flat outputs named
# 's<step>:<param>' (the parameter after the step) and 's<step>:<param>:<entry>' (CS231n's
# config entry), plus the rebound and returned marks (layercheck.cases.sandbox.replies
# holds every field to these names and types).


def case_fields(case: OptimCase) -> dict[str, Any]:
    """The case as plain fields (what `case_from_fields` reads back)."""
    return {"rule": case.rule, "api": case.api, "P": case.P, "steps": case.steps,
            "dtype": case.dtype, "kind": case.kind, "hyper": [list(h) for h in case.hyper]}


def case_from_fields(d: dict[str, Any]) -> OptimCase:
    return OptimCase(d["rule"], d["api"], int(d["P"]), int(d["steps"]), d["dtype"], d["kind"],
                     tuple((str(k), float(v)) for k, v in d["hyper"]))


def input_arrays(inputs: OptimInputs) -> dict[str, Any]:
    return {"params": inputs.params, "grads": inputs.grads}


def inputs_from_arrays(arrays: dict[str, Any]) -> OptimInputs:
    return OptimInputs(dict(arrays["params"]), [dict(g) for g in arrays["grads"]])


def output_names(case: OptimCase) -> set[str]:
    """Every name a run of the case may send back."""
    params = param_shapes(case.P)
    keys = STATE_KEYS[case.rule] if case.api == "cs231n" else ()
    return {f"s{s}:{k}{suffix}" for s in range(1, case.steps + 1) for k in params
            for suffix in ("", *(f":{e}" for e in keys))}


def run_outputs(run: OptimRun) -> dict[str, Any]:
    """The run's values under their wire names (raw objects; the wire converts them)."""
    out: dict[str, Any] = {}
    for s, values in enumerate(run.params, start=1):
        for k, v in values.items():
            out[f"s{s}:{k}"] = v
    for s, state in enumerate(run.state, start=1):
        for k, entries in state.items():
            for e, v in entries.items():
                out[f"s{s}:{k}:{e}"] = v
    return out


def run_from_outputs(case: OptimCase, outputs: dict[str, Any]) -> OptimRun:
    """An `OptimRun` back from `run_outputs` (steps in order, while any value came back)."""
    run = OptimRun()
    params = list(param_shapes(case.P))
    keys = STATE_KEYS[case.rule] if case.api == "cs231n" else ()
    for s in range(1, case.steps + 1):
        if not any(f"s{s}:{k}" in outputs for k in params):
            break
        run.params.append({k: outputs.get(f"s{s}:{k}") for k in params})
        if case.api == "cs231n":
            run.state.append({k: {e: outputs.get(f"s{s}:{k}:{e}") for e in keys}
                              for k in params})
    return run
