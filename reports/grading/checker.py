"""Check one student submission: sandboxed runs, verdicts computed here, patterns, shrinking.

The student's code runs only in the worker (layercheck.cases.sandbox.handle); references and
verdicts are computed in this process from the plain arrays the worker sends back. Each
report is scored once (layercheck.reports.grading.scoring), and every output renders it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layercheck.cases import curricula, registry
from layercheck.cases.adapters import CLASS_NAMES, Run, convention_inputs
from layercheck.cases.case import Case
from layercheck.cases.functional import supports
from layercheck.cases.inputs import make_inputs, rejection
from layercheck.cases.sandbox import isolation
from layercheck.cases.sandbox.handle import Worker
from layercheck.cases.student_grid import extras_used, notes_shaped, student_grid
from layercheck.cases.submission import names as naming
from layercheck.cases.submission.survey import FUNCTION_NAMES, LoadError, Submission, load
from layercheck.reference import truth_cache as truths
from layercheck.reference.diagnosis import Diagnosis, text
from layercheck.reference.expected import Truth
from layercheck.reference.explain import drift_hint, locate, located, with_shape_slip
from layercheck.reference.patterns import pattern_lines
from layercheck.reference.result import Result
from layercheck.reference.verdicts import verdicts
from layercheck.reports.grading import scoring, units
from layercheck.reports.grading.draws import PUBLIC, Draws, draws_for
from layercheck.reports.grading.options import GradingOptions
from layercheck.reports.grading.scoring import Hidden, Score
from layercheck.reports.grading.shrink import reproducer, shrink

# The graded layers by default: each API's classic layers (README, "Checking students").
# The curricula's other layers are graded only where configured (--layers): what a student
# happens to define never changes what is graded, nor the maximum score.
# AvgPooling is in neither curriculum's layer file (the notes have Convolution, Pooling,
# Affine, Relu, SoftmaxWithLoss): graded only when --layers names it.
DEFAULT_LAYERS = {api: registry.default_layers(api) for api in registry.APIS}
LAYERS_BY_API = {api: registry.layers_for(api) for api in registry.APIS}
TIMEOUTS_PER_LAYER = 3  # after this many timeouts, a layer's remaining cases are not run
MAX_SHRINKS = 8
MAX_SANDBOX_DETAILS = 5
FAST = "fast"  # Result.variant of the functional API's *_fast results
STATUSES = ("pass", "fail", "error", "timeout", "missing")
# forward, backward; then the networks' and optimizers' phases (loss, grad; update)
PHASES_ORDER = tuple(dict.fromkeys(p for u in registry.UNITS for p in u.phases))


@dataclass
class Shrunk:
    """The smallest failing case found for one distinct failure."""

    layer: str
    output: str
    original: str
    case: str
    diagnosis: str
    reproducer: str


@dataclass
class StudentReport:
    """Everything a check of one submission found."""

    implementation: str
    api: str | None = None
    results: list[Result] = field(default_factory=list)
    policy: list[dict[str, str]] = field(default_factory=list)
    load_error: str | None = None
    patterns: list[str] = field(default_factory=list)
    shrunk: list[Shrunk] = field(default_factory=list)
    layers: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    seconds: float = 0.0
    restarts: int = 0
    cases: dict[str, Case] = field(default_factory=dict)
    file: str | None = None  # the graded file, relative to the folder given
    warnings: list[str] = field(default_factory=list)  # right values, questionable habits
    isolation: str = ""  # how the student code was isolated (layercheck.cases.sandbox.isolation)
    grader_error: str | None = None  # the grader failed on this submission: exit code 3
    # graded layer -> (the name the submission should define, near names it does define)
    undefined: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    offered: tuple[str, ...] = ()  # every API the file offers (graded on each if detected)
    score: Score | None = None  # computed once (layercheck.reports.grading.scoring)

    def summary(self) -> dict[str, int]:
        """Counts by status, and the total."""
        counts = {s: sum(r.status == s for r in self.results) for s in STATUSES}
        return {"total": len(self.results), **counts}

    def required_missing(self) -> list[str]:
        """Graded (required) layers the submission does not define: each one fails the
        submission (exit code 1) and scores 0."""
        missing = {r.layer for r in self.results if r.status == "missing"}
        return [layer for layer in self.required if layer in missing]

    def exit_code(self) -> int:
        """0: every graded layer is defined, every checked case passes and no policy is
        violated; 1: otherwise; 2: not loaded; 3: the grader itself failed on this
        submission (or could not isolate it)."""
        if self.grader_error is not None:
            return 3
        if self.load_error is not None:
            return 2
        bad = any(r.status in ("fail", "error", "timeout") for r in self.results)
        return 1 if bad or self.policy or self.required_missing() else 0

    def to_json(self) -> dict[str, Any]:
        """The `--json` format of the issue."""
        return {
            "implementation": self.implementation,
            "api": self.api,
            "file": self.file,
            "warnings": self.warnings,
            "summary": self.summary(),
            "policy": self.policy,
            "isolation": self.isolation,
            "grader_error": self.grader_error,
            "apis": list(self.offered),  # every API the file offers (each one graded)
            "score": scoring.score_of(self).to_json(),
            "undefined": {layer: {"name": name, "near": list(near)}
                          for layer, (name, near) in self.undefined.items()},
            "cases": [{"id": r.id, "layer": r.layer, "phase": r.phase, "output": r.output,
                       "variant": r.variant, "status": r.status,
                       "max_abs_err": _finite(r.max_abs_err),
                       "err_over_bound": _finite(r.err_over_bound), "diagnosis": r.diagnosis,
                       "diagnoses": [d.to_json() for d in r.diagnoses]}
                      for r in self.results],
        }


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def inputs_and_truth(case: Case, api: str, draws: Draws = PUBLIC) -> tuple[dict, Truth]:
    """The case's arrays as the API is judged on, drawn as `draws` says, and the float64
    truth for them (cached on disk by layercheck.reference.truth_cache, except for a fresh
    draw: PyTorch is imported only on a cache miss)."""
    arrays = convention_inputs(case, make_inputs(case, draws.seed(case)))  # loss dx: dout 1
    return arrays, truths.truth(case, arrays, keep=not draws.fresh(case))


def judge(case: Case, arrays: dict, truth: Truth, run: Run,
          root: str | Path | None = None) -> list[Result]:
    """Verdicts for one run, with the student-facing diagnoses added; errors are located in
    the student's own code under `root`. Only the case's student outputs are judged
    (curricula.student_outputs: no gradients after a test-mode batch-norm forward)."""
    if curricula.forward_only(case):
        truth = {name: exp for name, exp in truth.items() if name not in curricula.BN_GRADS}
    results = verdicts(case, arrays, truth, None, run)
    grads = [o for o in run.outputs if o not in ("out", "loss", *curricula.AGAINS)]
    stub_forward = any(o in run.outputs and run.outputs[o] is None for o in ("out", "loss"))
    stub_backward = bool(grads) and all(run.outputs[o] is None for o in grads)
    for res in results:
        got = run.outputs.get(res.output)
        if res.status == "error" and run.error_type in ("Timeout", "Budget"):
            res.status = "timeout"
            res.diagnose([Diagnosis("timeout", {"error": run.error or "timeout"})])
        elif res.status == "error" and run.error:
            res.diagnose(located(res.diagnoses, case, run.error_phase, run.error,
                                 run.traceback, root))
        elif "shape" in res.codes and hasattr(got, "shape"):
            res.diagnose(with_shape_slip(res.diagnoses, case, res.output, tuple(got.shape)))
        elif got is None and res.status == "fail" and res.output in run.outputs:
            res.diagnose([text(_none_words(res.output, stub_forward, stub_backward,
                                           len(grads)))])
    return results


def _none_words(output: str, stub_forward: bool, stub_backward: bool, n_grads: int) -> str:
    """Why an output is None: a stub not implemented yet, or a missing return/store."""
    if output in ("out", "loss"):
        return ("not implemented yet: forward returned None (its body is still a stub, "
                "`pass` or a TODO)")
    if stub_forward:
        return "not computed: forward is not implemented yet (it returned None)"
    if stub_backward and n_grads > 1:
        return ("not implemented yet: backward returned None and set no gradients (its body "
                "is still a stub, `pass` or a TODO)")
    if output == "dx":
        return ("backward returned None: not implemented yet (a stub), or `return dx` is "
                "missing")
    return f"{output} is None after backward: store it (self.{output} = ...)"


def missing_results(case: Case, why: str, name: str = "",
                    near: tuple[str, ...] = ()) -> list[Result]:
    """'missing' rows for a case of a layer the submission does not define: the missing
    name and its near names as data (`missing_named`), `why` as their words."""
    out = []
    for o in curricula.student_outputs(case):
        r = Result(case.id, case.layer, "forward" if o in ("out", "loss") else "backward", o,
                   "missing", params=case.params())
        r.diagnose([Diagnosis("missing_named", {"words": why, "name": name,
                                                "near": list(near)})])
        out.append(r)
    return out


def _defines(layer: str, api: str, has: set[str]) -> str | None:
    """None when the layer is defined, else the name that is missing."""
    name = CLASS_NAMES[layer] if api == "class" else FUNCTION_NAMES[layer][0][0]
    return None if name in has else name


def _key(res: Result) -> tuple[str, str, tuple[tuple[str, str | None], ...]]:
    """What makes two failures 'the same bug': layer, status, and the findings' codes and
    patterns (their confirmed causes where there are some; never their words or numbers)."""
    found = [d for d in res.diagnoses if d.is_cause] or list(res.diagnoses)
    return res.layer, res.status, tuple((d.code, d.pattern) for d in found)


class Checker:
    """Runs cases for one submission through one sandboxed worker."""

    def __init__(self, sub: Submission, timeout: float, budget: float,
                 allow_torch: bool = False, isolate: bool = True,
                 draws: Draws = PUBLIC) -> None:
        self.sub = sub
        self.draws = draws
        self.worker = Worker(sub.path, sub.root, sub.api, timeout=timeout,
                             names=sub.names | set(sub.name_map), allow_torch=allow_torch,
                             isolate=isolate)
        self.worker.extra_config = sub.worker_config()  # package, notebook cells, name map
        if sub.needs_root():  # imports reach beyond the file's own folder: stage the root
            self.worker.whole_root = True
        self.dout_changed: dict[str, list[str]] = {}  # layer -> ids of cases
        self.deadline = time.monotonic() + budget
        self.budget = budget

    def run(self, case: Case, variant: int = 0) -> list[Result]:
        """Verdicts for one case; `variant` 1 runs the functional API's *_fast pair."""
        arrays, truth = inputs_and_truth(case, self.sub.api, self.draws)
        if time.monotonic() > self.deadline:
            run = Run(error_type="Budget",
                      error=f"not run: the total budget of {self.budget:g} s was used up")
        else:
            run = self.worker.run(case, arrays, variant)
            if "dout" in run.modified:  # a side effect on dout is a warning, not a failure
                run.modified = [m for m in run.modified if m != "dout"]
                self.dout_changed.setdefault(case.layer, []).append(case.id)
        return judge(case, arrays, truth, run, self.sub.root)


def check_submission(target: str | Path, layers: tuple[str, ...] | None = None,
                     dtypes: tuple[str, ...] = ("f64",), api: str | None = None,
                     timeout: float = 5.0, budget: float = 600.0, allow_torch: bool = False,
                     do_shrink: bool = True,
                     progress: Callable[[int, int], None] | None = None,
                     file: str | None = None,
                     names: dict[str, str] | None = None,
                     unsafe_no_isolation: bool = False, hidden_share: float = 0.0,
                     hidden_patterns: tuple[str, ...] = (), secret: str = "") -> StudentReport:
    """Check one submission (a file, a notebook or a folder) over the student grid, and
    score it once (`report.score`, see layercheck.reports.grading.scoring).

    `api`: the course's API, graded as given; None: detected, and a file offering both
    APIs is graded on both, the lower score standing (what a file defines never shrinks
    what is graded). `file` picks the graded file inside a folder; `names` maps layers to
    the student's names ({"conv": "MyConv"}). Where the machine cannot isolate student
    code, the report is a grader error (exit code 3) unless `unsafe_no_isolation`; any
    other failure of the grader itself is this submission's grader error too, never an
    exception. `hidden_share` / `hidden_patterns`: which cases are hidden (scoring.Hidden).
    `secret`: the course's secret, from which the arrays are drawn (hidden cases afresh for
    this submission); empty: this machine's own; "public": the public ids
    (layercheck.reports.grading.draws).
    """
    hidden = Hidden(hidden_share, tuple(hidden_patterns))
    draws = draws_for(secret, hidden)
    rest = (layers, dtypes, timeout, budget, allow_torch, do_shrink, progress, file, names,
            unsafe_no_isolation, draws)
    report = _guarded(target, api, *rest)
    report.score = scoring.compute(report, hidden)
    if api is not None or not report.score.gradable or len(report.offered) < 2:
        return report
    reports = [report]
    for other in report.offered:
        if other != report.api:
            r = _guarded(target, other, *rest)
            r.score = scoring.compute(r, hidden)
            r.offered = report.offered
            reports.append(r)
    return worse_of(reports)


def grade(target: str | Path, options: GradingOptions,
          progress: Callable[[int, int], None] | None = None) -> StudentReport:
    """`check_submission` with its options as one object (the intake's fields unused)."""
    return check_submission(target, **options.check_kwargs(), progress=progress)


def worse_of(reports: list[StudentReport]) -> StudentReport:
    """Of one file graded under each API it offers, the report that stands: a grader error
    if any, else the lowest score (the first, the detected API, on a tie); its warnings
    name every API's score."""
    failed = [r for r in reports if r.grader_error is not None]
    if failed:
        return failed[0]
    kept = min(reports, key=lambda r: scoring.score_of(r).fraction)
    each = ", ".join(f"{r.api} {scoring.score_of(r).percent:.1f}%" for r in reports)
    kept.warnings.append(f"this file offers both APIs, so it was graded as each and the "
                         f"lower score stands ({each}): graded as the {kept.api} API")
    return kept


def _guarded(target: str | Path, api: str | None, layers: tuple[str, ...] | None,
             *rest: Any) -> StudentReport:
    """`_check`, with any failure of the grader itself this submission's grader error."""
    t0 = time.monotonic()
    report = StudentReport(str(target), required=graded_layers(layers, api))
    try:
        return _check(report, target, layers, rest[0], api, *rest[1:], t0)
    except Exception as e:  # the grader's own failure: this submission's row, exit code 3
        report.grader_error = f"{type(e).__name__}: {str(e)[:2000]}"
        report.seconds = time.monotonic() - t0
        return report


def offered_apis(sub: Submission) -> tuple[str, ...]:
    """Every API the file offers (the survey's `Submission.apis`, the primary first)."""
    return tuple(sub.apis) or (sub.api,)


def _check(report: StudentReport, target: str | Path, layers: tuple[str, ...] | None,
           dtypes: tuple[str, ...], api: str | None, timeout: float, budget: float,
           allow_torch: bool, do_shrink: bool,
           progress: Callable[[int, int], None] | None, file: str | None,
           names: dict[str, str] | None, unsafe: bool, draws: Draws,
           t0: float) -> StudentReport:
    if not unsafe:
        reason = isolation.probe()
        if reason is not None:
            report.grader_error = (f"refusing to run untrusted code: this machine cannot "
                                   f"isolate it ({reason}); --unsafe-no-isolation runs it "
                                   f"anyway")
            return report
    report.isolation = isolation.describe(not unsafe)
    try:
        sub = load(target, api, file=file, names=names)
    except LoadError as e:
        report.load_error = str(e)
        return report
    report.api, report.file = sub.api, sub.graded
    report.offered = offered_apis(sub)
    if not allow_torch:
        # the detail is for students (no flags); "hint" is for whoever runs the grader
        report.policy += [{"rule": "no-framework",
                           "detail": f"{d} (a framework that would do the work is not "
                                     f"allowed)", "hint": "--allow-torch lifts this"}
                          for d in sub.forbidden_imports]
    checker = Checker(sub, timeout, budget, allow_torch=allow_torch, isolate=not unsafe,
                      draws=draws)
    try:
        hello = checker.worker.start()
        if hello.get("grader"):
            report.grader_error = str(hello.get("error"))
            return report
        if not hello.get("ok"):
            report.load_error = f"importing {sub.path.name} failed: {hello.get('error')}"
            tb = hello.get("traceback")
            where = locate(tb, sub.root) if isinstance(tb, str) else ""
            if where:  # the student's own line, never ours or NumPy's
                report.load_error += f" ({where.strip()})"
            hint = drift_hint(str(hello.get("error")))
            if hint:  # NumPy's long removal note: its first line, where, and the fix
                first = str(hello.get("error")).strip().splitlines()[0]
                report.load_error = (f"importing {sub.path.name} failed: {first} "
                                     f"({where.strip()}). {hint}" if where else
                                     f"{report.load_error}. {hint}")
            return report
        report.warnings += list(hello.get("notes", ()))  # a notebook's statements skipped
        report.layers = report.required = graded_layers(layers, sub.api)
        _run_grid(report, checker, dtypes, progress)
        found = units.check_units(units.UnitCheck(  # networks and optimizers
            checker.worker, sub, checker.deadline, checker.budget, checker.draws),
            report.layers, dtypes)
        report.results += found.results
        report.undefined.update(found.undefined)
        report.shrunk += [Shrunk(*s) for s in found.smallest]
        report.warnings += dout_warnings(report, checker.dout_changed)
        if do_shrink:
            _shrink_failures(report, checker)
        report.restarts = checker.worker.restarts
    finally:
        checker.worker.close()
        listed = " ".join(p["detail"] for p in report.policy)
        report.policy += [{"rule": "no-framework", "detail": f"{m}: importing it failed in "
                                                             f"the sandbox, where frameworks "
                                                             f"are not available"}
                          for m in checker.worker.forbidden if m not in listed]
        report.policy += sandbox_policy(checker.worker.violations)
        if checker.worker.grader_error and report.grader_error is None:  # e.g. a restart
            report.grader_error = checker.worker.grader_error
        report.seconds = time.monotonic() - t0
    return report


def dout_warnings(report: StudentReport, changed: dict[str, list[str]]) -> list[str]:
    """One warning per layer whose backward changed dout in place (never a failure)."""
    out = []
    for layer, ids in changed.items():
        total = len({r.id for r in report.results if r.layer == layer})
        bad = {r.id for r in report.results if r.id in set(ids) and not r.passed}
        values = ("the values are right" if not bad else
                  f"{len(bad)} of these cases also fail, see below")
        out.append(f"{layer}: backward modifies dout in place (in {len(set(ids))} of {total} "
                   f"cases); {values}, but a caller that reuses dout sees it changed: "
                   f"write dx = dout.copy() before changing it")
    return out


def sandbox_policy(violations: list[str]) -> list[dict[str, str]]:
    """One 'sandbox' policy entry per distinct refusal (the first few; then a count)."""
    distinct = list(dict.fromkeys(violations))
    out = [{"rule": "sandbox", "detail": v} for v in distinct[:MAX_SANDBOX_DETAILS]]
    if len(distinct) > MAX_SANDBOX_DETAILS:
        out.append({"rule": "sandbox", "detail": f"and {len(distinct) - MAX_SANDBOX_DETAILS} "
                                                 f"more refused attempts"})
    return out


def graded_layers(layers: tuple[str, ...] | None, api: str | None) -> tuple[str, ...]:
    """The layers graded (and required): the configured ones (--layers), else the API's
    classic layers (`DEFAULT_LAYERS`); while the API is not known yet, those both APIs
    grade by default. Never depends on what the submission defines (the curricula's other
    layers only when configured)."""
    if layers:
        return tuple(dict.fromkeys(layers))
    return DEFAULT_LAYERS.get(api or "", scoring.default_layers(None))


def _run_grid(report: StudentReport, checker: Checker, dtypes: tuple[str, ...],
              progress: Callable[[int, int], None] | None) -> None:
    sub = checker.sub
    usable = [layer for layer in report.layers if layer in LAYERS_BY_API[sub.api]]
    accepts = {layer: sub.accepts.get(CLASS_NAMES.get(layer, ""), set()) for layer in usable}
    cases = student_grid(tuple(usable), dtypes, sub.api, accepts)
    for layer in report.layers:
        if layer not in usable and registry.unit(layer).kind == "layer":
            report.results.append(Result(f"{layer}-not-in-{sub.api}-api", layer, "forward",
                                         "out", "missing",
                                         diagnosis=f"the {sub.api} API has no {layer} layer"))
    timeouts: dict[tuple[str, int], int] = {}
    report.cases = {c.id: c for c in cases}
    fast = [c for c in cases if sub.api == "functional" and _fast_names(c.layer) is not None
            and all(n in checker.worker.has for n in _fast_names(c.layer) if n)]
    hints: dict[str, str] = {}  # "did you mean": once per missing name, not per case
    for i, case in enumerate(cases):
        name = _defines(case.layer, sub.api, checker.worker.has)
        if name is not None:
            if name not in hints:
                hints[name] = sub.missing_hint(name)
                report.undefined.setdefault(case.layer, (name, near_names(sub, name)))
            report.results += missing_results(case, f"{name} is not defined" + hints[name],
                                              name, report.undefined[case.layer][1])
        else:
            report.results += _run_counted(checker, case, 0, timeouts)
        if progress:
            progress(i + 1, len(cases) + len(fast))
    fast_results: list[Result] = []
    for i, case in enumerate(fast):
        fast_results += [as_fast(r) for r in _run_counted(checker, case, 1, timeouts)]
        if progress:
            progress(len(cases) + i + 1, len(cases) + len(fast))
    report.results += fast_results
    report.patterns = pattern_lines([r for r in report.results if not r.variant], report.cases)
    fast_cases = {c.id: c for c in fast}
    report.patterns += [_fast_pattern(line) for line in pattern_lines(fast_results, fast_cases)]


def near_names(sub: Submission, name: str) -> tuple[str, ...]:
    """Names the submission defines that look like the missing `name` (its style: classes
    capitalised, functions not), for advice such as 'rename MyPool to Pooling'."""
    used = set(sub.name_map.values()) | set(naming.canonical_names(sub.api).values())
    pool = {n for n in sub.names
            if (n[:1].isupper() if sub.api == "class" else n[:1].islower())}
    return tuple(naming.suggestions(name, pool, used))


def _fast_names(layer: str) -> tuple[str, str | None] | None:
    """The layer's (forward, backward) *_fast names (the registry's "fast" variant), or
    None when it has none."""
    pair = registry.unit(layer).variant(FAST)
    return (pair.forward, pair.backward) if pair is not None else None


def as_fast(res: Result) -> Result:
    """A *_fast result told apart from the naive one: `variant` "fast" (the case id stays
    the case's), diagnosis names the function."""
    fwd, bwd = _fast_names(res.layer) or ("?", "?")
    res.variant = FAST
    res.add(Diagnosis("variant", {"name": fwd if res.phase == "forward" else bwd}))
    return res


def is_fast(res: Result) -> bool:
    """Whether the result is of a *_fast implementation (see `as_fast`)."""
    return res.variant == FAST


def _fast_pattern(line: str) -> str:
    """'conv out: ...' -> 'conv (fast) out: ...'; 'conv: ...' -> 'conv (fast): ...'."""
    layer, rest = line.split(" ", 1)
    if layer.endswith(":"):
        return f"{layer[:-1]} (fast): {rest}"
    return f"{layer} (fast) {rest}"


def _run_counted(checker: Checker, case: Case, variant: int,
                 timeouts: dict[tuple[str, int], int]) -> list[Result]:
    """Run a case unless its layer (and variant) already timed out too often."""
    key = (case.layer, variant)
    if timeouts.get(key, 0) >= TIMEOUTS_PER_LAYER:
        arrays, truth = inputs_and_truth(case, checker.sub.api)
        run = Run(error_type="Timeout", error=f"not run: {TIMEOUTS_PER_LAYER} cases of "
                                              f"{case.layer} already timed out")
        return judge(case, arrays, truth, run)
    res = checker.run(case, variant)
    if any(r.status == "timeout" for r in res):
        timeouts[key] = timeouts.get(key, 0) + 1
    return res


def _shrink_failures(report: StudentReport, checker: Checker) -> None:
    """Shrink each distinct failure; a step that fails drops that reproducer, never the report."""
    cases = report.cases
    seen: set[tuple[str, str, str]] = set()
    for res in report.results:
        if res.status not in ("fail", "error") or res.id not in cases or res.variant:
            continue  # a variant's failure is reported, not shrunk (shrinking runs the main)
        key = _key(res)
        if key in seen or len(seen) >= MAX_SHRINKS:
            continue
        seen.add(key)

        def still_fails(c: Case, key: tuple = key, output: str = res.output) -> bool:
            if time.monotonic() > checker.deadline:
                return False
            return any(r.output == output and _key(r) == key for r in checker.run(c))

        try:
            small = shrink(cases[res.id], still_fails, checker.sub.api)
            final = next((r for r in checker.run(small) if r.output == res.output), res)
            text = reproducer(small, checker.sub, res.output, checker.draws.seed(small))
        except Exception as e:  # shrinking is a courtesy: drop this reproducer, keep the report
            report.warnings.append(f"no reproducer for {res.layer} {res.output} ({res.id}): "
                                   f"shrinking failed with {type(e).__name__}: {e}")
            continue
        report.shrunk.append(Shrunk(res.layer, res.output, res.id, small.id, final.diagnosis,
                                    text))


class StudentSession:
    """One student file behind a long-lived worker, for `pytest --impl STUDENT.py`."""

    def __init__(self, target: str | Path, api: str | None = None, timeout: float = 5.0) -> None:
        self.sub = load(target, api)
        self.checker = Checker(self.sub, timeout, budget=float("inf"))
        hello = self.checker.worker.start()
        if not hello.get("ok"):
            raise LoadError(f"importing {self.sub.path.name} failed: {hello.get('error')}")

    def skip_reason(self, case: Case) -> str | None:
        """Why the case is not run for this student (None: it is run)."""
        if case.layer not in LAYERS_BY_API[self.sub.api]:
            return f"the {self.sub.api} API has no {case.layer} layer"
        if rejection(case) is not None:
            return "students are not asked to reject configurations"
        if case.kind == "nan":
            return "NaN propagation is not in the student grid (layercheck check)"
        if self.sub.api == "functional" and not supports(case):
            return "the functional API cannot express this case"
        if self.sub.api == "class":
            if not notes_shaped(case):
                return "uneven or string stride/pad, no bias or no batch axis: not the notes' API"
            missing = extras_used(case) - self.sub.accepts.get(CLASS_NAMES[case.layer], set())
            if missing:
                return f"{CLASS_NAMES[case.layer]}.__init__ does not take {sorted(missing)}"
        name = _defines(case.layer, self.sub.api, self.checker.worker.has)
        return f"{name} is not defined" if name else None

    def results(self, case: Case) -> dict[str, Result]:
        """{output: Result} for one case, run in the sandbox and judged here."""
        return {r.output: r for r in self.checker.run(case)}

    def close(self) -> None:
        self.checker.worker.close()
