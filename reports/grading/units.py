"""Networks and optimizers in a student check: their grids, sandboxed runs and verdicts.

The checker (layercheck.reports.grading.checker) grades the layers; this module grades the
graded units of the other kinds of the layer registry (`kind` "net" or "optimizer"), named
in `--layers`. Each case runs in the submission's sandboxed worker
(`Worker.run_unit`), its truth comes from reference/ (cached on disk beside the layers'
truths, so a warm check never imports PyTorch), and its verdicts become the project's
`Result` rows: layer = the unit's name, phase = the unit's phases ('loss' and 'grad' for a
network, 'update' for an optimizer), so scoring, the renderers and the class report count
them as they count layers.

Time: an optimizer case has the worker's per-case timeout; a network case has its own,
larger limit (`case_time_limit`: the timeout plus NET_SECONDS_PER_PARAM per parameter
element, within the total budget), so that a `gradient` computed by the notes' numerical
gradient is judged by its values (net_twins.numerical_truth), not failed for its speed.
"""

from __future__ import annotations

import keyword
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from layercheck.cases import net_cases, optim_cases, registry
from layercheck.cases.net_cases import NetCase, NetInputs, NetRun
from layercheck.cases.optim_cases import OptimCase, OptimInputs, OptimRun
from layercheck.cases.sandbox.handle import Worker
from layercheck.cases.submission.survey import Submission
from layercheck.reference import net_twins, optim_judge, optim_oracle, truth_cache
from layercheck.reference.diagnosis import Diagnosis
from layercheck.reference.expected import Expected
from layercheck.reference.explain import locate
from layercheck.reference.net_twins import NetExpected
from layercheck.reference.optim_oracle import StepTruth
from layercheck.reference.result import Result
from layercheck.reports.grading.draws import PUBLIC, Draws

# The registry's APIs and the curricula the case modules name them by.
CURRICULUM = {"class": "book", "functional": "cs231n"}
TIMEOUTS_PER_UNIT = 3  # after this many timeouts, a unit's remaining cases are not run
# A network case's own time limit: the worker's per-case timeout plus NET_SECONDS_PER_PARAM
# for each parameter element, so that a `gradient` that is the notes' numerical gradient
# (two forward passes per element) is judged by its values, not failed for its speed; never
# past the submission's total budget (the time left when the case starts). The grid's nets
# are kept small (at most MAX_NET_PARAMS elements) so that this stays a few seconds.
NET_SECONDS_PER_PARAM = 0.02
MAX_NET_PARAMS = 400
UnitCase = OptimCase | NetCase
_memory: dict[str, Any] = {}


def graded_units(layers: tuple[str, ...]) -> tuple[str, ...]:
    """The networks and optimizers among the graded names (registry order kept as given)."""
    return tuple(n for n in layers if registry.unit(n).kind != "layer")


def unit_cases(name: str, api: str, dtypes: tuple[str, ...] = ("f64",)) -> list[UnitCase]:
    """The student grid of one network or optimizer under one API: its cases in `dtypes`
    (a curriculum whose nets work in float64 only: its float64 cases)."""
    unit, curriculum = registry.unit(name), CURRICULUM[api]
    cases: list[UnitCase]
    if unit.kind == "optimizer":
        wanted = tuple(d for d in optim_cases.DTYPES if d in dtypes) or ("f64",)
        cases = [c for c in optim_cases.grid(dtypes=wanted)
                 if c.rule == name and c.api == curriculum]
    else:
        mine = [c for c in net_cases.grid() if c.net == name and c.api == curriculum]
        cases = [c for c in mine if c.dtype in dtypes] or [c for c in mine if c.dtype == "f64"]
    return cases


def case_time_limit(case: UnitCase, base: float, left: float) -> float:
    """The time limit of one case: `base` (the worker's per-case timeout) for an optimizer;
    for a network, base + NET_SECONDS_PER_PARAM per parameter element; at most `left`
    (the seconds left of the total budget)."""
    if isinstance(case, OptimCase):
        return max(0.0, min(base, left))
    n = sum(int(np.prod(s)) for s in case.param_shapes().values())
    return max(0.0, min(base + NET_SECONDS_PER_PARAM * n, left))


def inputs_of(case: UnitCase, seed: int | None = None) -> OptimInputs | NetInputs:
    """The case's inputs, drawn from `seed` (default the case's public one)."""
    return (optim_cases.make_inputs(case, seed) if isinstance(case, OptimCase)
            else net_cases.make_inputs(case, seed))


def arrays_of(case: UnitCase, inputs: OptimInputs | NetInputs) -> dict[str, Any]:
    """The inputs as the worker's message carries them."""
    if isinstance(case, OptimCase):
        return optim_cases.input_arrays(inputs)  # type: ignore[arg-type]
    return net_cases.input_arrays(inputs)  # type: ignore[arg-type]


# --- truths, cached -----------------------------------------------------------------------


def _flat_arrays(case: UnitCase, inputs: OptimInputs | NetInputs) -> dict[str, np.ndarray]:
    if isinstance(case, OptimCase):
        out = {f"p:{k}": v for k, v in inputs.params.items()}
        out.update({f"g{s}:{k}": v for s, g in enumerate(inputs.grads) for k, v in g.items()})
        return out
    return {"x": inputs.x, "y": inputs.y, **{f"p:{k}": v for k, v in inputs.params.items()}}


def _flatten(truth: list[StepTruth] | NetExpected) -> dict[str, Expected]:
    if isinstance(truth, list):
        out = {}
        for s, st in enumerate(truth, start=1):
            out.update({f"s{s}:{k}": e for k, e in st.params.items()})
            out.update({f"s{s}:{k}:{n}": e for k, entries in st.state.items()
                        for n, e in entries.items()})
        return out
    out = {"loss": truth.loss, **{f"grad:{k}": e for k, e in truth.grads.items()}}
    if truth.scores is not None:
        out["scores"] = truth.scores
    zero = np.zeros(())
    out["reg"] = Expected("forward", np.asarray(truth.reg_term), zero)
    out.update({f"data:{k}": Expected("backward", v, zero)
                for k, v in truth.data_grads.items()})
    out.update({f"num:{k}": e for k, e in truth.num_grads.items()})
    return out


def _unflatten(case: UnitCase, flat: dict[str, Expected]) -> list[StepTruth] | NetExpected:
    if isinstance(case, OptimCase):
        steps = []
        for s in range(1, case.steps + 1):
            st = StepTruth()
            for name, e in flat.items():
                head, _, rest = name.partition(":")
                if head != f"s{s}":
                    continue
                k, _, entry = rest.partition(":")
                if entry:
                    st.state.setdefault(k, {})[entry] = e
                else:
                    st.params[k] = e
            steps.append(st)
        return steps
    grads = {n[5:]: e for n, e in flat.items() if n.startswith("grad:")}
    data = {n[5:]: e.value for n, e in flat.items() if n.startswith("data:")}
    num = {n[4:]: e for n, e in flat.items() if n.startswith("num:")}
    return NetExpected(flat["loss"], grads, flat.get("scores"), float(flat["reg"].value), data,
                       num)


def _save(path: Path, flat: dict[str, Expected]) -> None:
    """Atomically (a temporary file renamed); an unwritable cache costs a recomputation."""
    names = list(flat)
    arrays: dict[str, np.ndarray] = {"names": np.array(names, dtype=str),
                                     "phases": np.array([flat[n].phase for n in names], str)}
    for i, n in enumerate(names):
        arrays[f"v{i}"] = np.asarray(flat[n].value)
        arrays[f"b{i}"] = np.asarray(flat[n].bound)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def _load(path: Path) -> dict[str, Expected] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            names, phases = [str(n) for n in z["names"]], [str(p) for p in z["phases"]]
            return {n: Expected(p, z[f"v{i}"], z[f"b{i}"])
                    for i, (n, p) in enumerate(zip(names, phases, strict=True))}
    except (OSError, ValueError, KeyError, EOFError):  # unreadable: computed again
        return None


def _compute(case: UnitCase, inputs: OptimInputs | NetInputs) -> list[StepTruth] | NetExpected:
    """The case's truth from its oracle (PyTorch imported here)."""
    if isinstance(case, OptimCase):
        return optim_oracle.truth(case, inputs)  # type: ignore[arg-type]
    return net_twins.truth(case, inputs)  # type: ignore[arg-type]


def truth(case: UnitCase, inputs: OptimInputs | NetInputs,
          keep: bool = True) -> list[StepTruth] | NetExpected:
    """The case's truth: from memory, from the disk cache, or computed (PyTorch imported
    only then) and stored (never, `keep` False: inputs drawn once, as hidden cases are).
    The key holds the case id, a digest of its inputs, and the layers' cache version
    (reference/'s sources and the torch version)."""
    if not keep:
        return _compute(case, inputs)
    key = f"unit-{case.id}-{truth_cache.arrays_digest(_flat_arrays(case, inputs))}"
    if key in _memory:
        return _memory[key]
    folder = truth_cache.version_dir()
    path = None if folder is None else folder / f"{key}.npz"
    flat = _load(path) if path is not None and path.exists() else None
    if flat is not None:
        found = _unflatten(case, flat)
    else:
        found = _compute(case, inputs)
        if path is not None:
            _save(path, _flatten(found))
    _memory[key] = found
    return found


# --- verdicts as Result rows ----------------------------------------------------------------


def _net_phase(output: str) -> str:
    return "loss" if output in ("scores", "loss") else "grad"


def results(case: UnitCase, inputs: OptimInputs | NetInputs, run: OptimRun | NetRun,
            root: str | Path | None = None, keep: bool = True) -> list[Result]:
    """The judged run as Result rows (see the module docstring); a timeout's rows have the
    status 'timeout', an error is located in the student's own code under `root`."""
    where = locate(run.traceback, root) if run.error and run.traceback else ""
    if isinstance(case, OptimCase):
        verdicts = optim_judge.judge(case, inputs, run,  # type: ignore[arg-type]
                                     truth(case, inputs, keep))
        rows = [v.result(case) for v in verdicts]
    else:
        exp = truth(case, inputs, keep)
        rows = []
        for v in net_twins.judge(case, inputs, run, exp):  # type: ignore[arg-type]
            phases = registry.unit(case.net).phases if v.output == "*" else (
                _net_phase(v.output),)
            rows += [Result(case.id, case.net, phase, v.output, v.status,
                            max_abs_err=v.max_abs_err, err_over_bound=v.err_over_bound,
                            worst_index=v.worst_index,
                            diagnosis=v.diagnosis, diagnoses=v.diagnoses,
                            params=case.params()) for phase in phases]
        seen = {r.phase for r in rows}  # an error before the gradient: that phase fails too
        rows += [Result(case.id, case.net, phase, "grads", "error",
                        diagnoses=(Diagnosis("unit_error", {"error": run.error or "not reached"}),),
                        params=case.params())
                 for phase in registry.unit(case.net).phases if phase not in seen]
    for r in rows:
        if r.status == "error" and run.error_type in ("Timeout", "Budget"):
            r.status = "timeout"
        elif r.status == "error" and where and where.strip() not in r.diagnosis:
            r.diagnosis += f" ({where.strip()})"
    return rows


def missing(unit: str, case_id: str, why: str, params: dict[str, object] | None = None
            ) -> list[Result]:
    """'missing' rows, one per phase of the unit (each phase counts the case as failed)."""
    return [Result(case_id, unit, phase, "*", "missing", diagnosis=why, params=params or {})
            for phase in registry.unit(unit).phases]


# --- one submission --------------------------------------------------------------------------


@dataclass
class UnitCheck:
    """What grading a submission's networks and optimizers needs of the checker."""

    worker: Worker
    sub: Submission
    deadline: float  # time.monotonic() after which no case runs (the total budget)
    budget: float
    draws: Draws = PUBLIC  # the seeds of the cases' inputs (the course's secret)


@dataclass
class UnitOutcome:
    """What grading the networks and optimizers found: their Result rows, the units whose
    name the submission does not define ({unit: (name, ())}, as StudentReport.undefined),
    and per failing unit its smallest failing case as the fields of the checker's `Shrunk`
    (layer, output, original case, smallest case, diagnosis, reproducer)."""

    results: list[Result]
    undefined: dict[str, tuple[str, tuple[str, ...]]]
    smallest: list[tuple[str, str, str, str, str, str]]


def _size(case: UnitCase) -> tuple[int, ...]:
    """Smaller is simpler: fewer steps and parameters; fewer hidden layers, a smaller batch."""
    if isinstance(case, OptimCase):
        return (case.steps, case.P, case.dtype != "f64", len(case.hyper),
                optim_cases.KINDS.index(case.kind))
    return (len(case.hidden), case.N, sum(case.hidden), case.D, case.C, case.dtype != "f64")


def reproducer(case: UnitCase, sub: Submission, seed: int | None = None) -> str:
    """A few lines that rerun the case on the student's module and print the first failure,
    run from the submission's root."""
    module = sub.module or Path(sub.path).stem
    if all(p.isidentifier() and not keyword.iskeyword(p) for p in module.split(".")):
        line = f"import {module} as m"
    else:  # a file name that is no module name: loaded from its path, a Python literal
        line = ("import importlib.util as iu; "
                f"spec = iu.spec_from_file_location('student', {str(sub.path)!r}); "
                "m = iu.module_from_spec(spec); spec.loader.exec_module(m)")
    cases, judge = (("optim_cases", "optim_judge") if isinstance(case, OptimCase)
                    else ("net_cases", "net_twins"))
    fields = (optim_cases.case_fields(case) if isinstance(case, OptimCase)
              else net_cases.case_fields(case))
    root = "".join(ch if ch.isprintable() else "?" for ch in str(sub.root))
    return "\n".join([
        f"# run from {root} (the folder your imports resolve from)",
        f"from layercheck.cases import {cases} as c",
        f"from layercheck.reference.{judge} import first_failure, judge",
        line,
        f"case = c.case_from_fields({fields!r})",
        "inputs = c.make_inputs(case)" if seed in (None, case.seed) else
        f"inputs = c.make_inputs(case, seed={seed})  # the inputs graded",
        "bad = first_failure(judge(case, inputs, c.run(m, case, inputs)))",
        "print(bad.diagnosis if bad else 'passes')",
    ])


def _smallest(cases: list[UnitCase], rows: list[Result], sub: Submission,
              draws: Draws) -> tuple[str, str, str, str, str, str] | None:
    """The unit's smallest failing case (`_size`), as the checker's Shrunk fields."""
    bad = {r.id for r in rows if r.status in ("fail", "error")}
    failing = [c for c in cases if c.id in bad]
    if not failing:
        return None
    small = min(failing, key=_size)
    first = next(r for r in rows if r.id == small.id and r.status in ("fail", "error"))
    return (first.layer, first.output, failing[0].id, small.id, first.diagnosis,
            reproducer(small, sub, draws.seed(small)))


def check_units(check: UnitCheck, names: tuple[str, ...], dtypes: tuple[str, ...]
                ) -> UnitOutcome:
    """Results of every graded network and optimizer among `names` (see `UnitOutcome`)."""
    api, has = check.sub.api, check.worker.has
    out: list[Result] = []
    undefined: dict[str, tuple[str, tuple[str, ...]]] = {}
    smallest = []
    for name in graded_units(names):
        unit = registry.unit(name)
        if api not in unit.apis():
            out += missing(name, f"{name}-not-in-{api}-api", f"the {api} API has no {name}")
            continue
        cases = unit_cases(name, api, dtypes)
        if not cases:
            out += missing(name, f"{name}-{api}-no-cases",
                           f"layercheck has no {api} cases for {name} yet")
            continue
        called = unit.called_names(api)
        if not any(n in has for n in called):
            why = f"{called[0]} is not defined" + check.sub.missing_hint(called[0])
            undefined[name] = (called[0], ())
            for c in cases:
                out += missing(name, c.id, why, c.params())
            continue
        timeouts, rows = 0, []
        for c in cases:
            inputs = inputs_of(c, check.draws.seed(c))
            if timeouts >= TIMEOUTS_PER_UNIT or time.monotonic() > check.deadline:
                why = (f"not run: {TIMEOUTS_PER_UNIT} cases of {name} already timed out"
                       if timeouts >= TIMEOUTS_PER_UNIT else
                       f"not run: the total budget of {check.budget:g} s was used up")
                run: OptimRun | NetRun = OptimRun() if isinstance(c, OptimCase) else NetRun()
                run.error, run.error_type = why, "Timeout"
            else:
                limit = case_time_limit(c, check.worker.timeout,
                                        check.deadline - time.monotonic())
                run = check.worker.run_unit(c, arrays_of(c, inputs), timeout=limit)
                timeouts += run.error_type == "Timeout"
            rows += results(c, inputs, run, check.sub.root, keep=not check.draws.fresh(c))
        out += rows
        found = _smallest(cases, rows, check.sub, check.draws)
        if found is not None:
            smallest.append(found)
    return UnitOutcome(out, undefined, smallest)


# --- impl/'s own networks and optimizers, for `layercheck report` ------------------------------


def layers_only(names: tuple[str, ...] | list[str] | None) -> tuple[str, ...] | None:
    """The layers among `names` (None stays None: every layer)."""
    return None if names is None else tuple(n for n in names if registry.unit(n).kind == "layer")


# --- the conformance suite (`pytest --impl`) ---------------------------------------------------


def conformance_cases() -> list[UnitCase]:
    """Every network and optimizer case of both curricula, float32 and float64."""
    out: list[UnitCase] = []
    for name in graded_units(registry.names(None)):
        for api in registry.unit(name).apis():
            out += unit_cases(name, api, ("f64", "f32"))
    return out


def api_of(case: UnitCase) -> str:
    """The registry's API of a case's curriculum."""
    return next(a for a, c in CURRICULUM.items() if c == case.api)
