"""One scoring model: a submission's points, computed once and rendered by every output.

A `Score` holds one `Item` per graded layer x phase (its points from the layer registry),
and one policy item. An item's points are shared equally among the phase's cases: a case
earns its share when every output of that phase passes. So:

- a graded layer the submission does not define scores 0 (its cases are 'missing');
- a phase with no case run (a layer the API lacks, a submission not loaded) scores 0;
- a submission not loaded, or one the grader failed on, scores 0 of the same maximum
  (`Score.status` says which; PrairieLearn then reports it as not gradable);
- the policy item earns POLICY_POINTS with no violation, 0 with one;
- hidden cases are a split of each item into visible and hidden cases (`Hidden`): the
  totals do not depend on which cases are hidden, only what is shown does;
- what is graded is the configuration's layers (`StudentReport.required`), never what the
  submission happens to define. The functional API's `*_fast` variants (results with
  `Result.variant` set) are reported but NOT scored: they are often the course's own
  code, and defining an extra name can then neither raise nor lower a score.

The maximum is the same for every submission of a configuration: the sum of the graded
layers' points plus POLICY_POINTS. Every output gives `Score.earned` of `Score.possible`
(Gradescope, the terminal), or `Score.fraction` (PrairieLearn, JSON), or its percent (the
class report's gradebook): one number everywhere.
"""

from __future__ import annotations

import fnmatch
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from layercheck.cases import registry
from layercheck.reference.result import Result


class StudentReport(Protocol):
    """What scoring reads of a report (layercheck.reports.grading.checker.StudentReport,
    which imports this module)."""

    api: str | None
    results: list[Result]
    policy: list[dict[str, str]]
    load_error: str | None
    grader_error: str | None
    layers: tuple[str, ...]
    required: tuple[str, ...]
    undefined: dict[str, tuple[str, tuple[str, ...]]]
    score: Score | None


POLICY = "policy"
POLICY_POINTS = 10.0  # the policy item: as much as one layer
GRADED, NOT_LOADED, GRADER_ERROR = "graded", "not loaded", "grader error"


def phase_points(layer: str) -> tuple[tuple[str, float], ...]:
    """(phase, points) of a layer, from the layer registry (an unknown layer: none)."""
    try:
        phases = registry.unit(layer).phases
    except KeyError:
        return ()
    return tuple((phase, registry.points(layer, phase)) for phase in phases)


def default_layers(api: str | None) -> tuple[str, ...]:
    """The layers graded when none are configured: the API's defaults; with the API not
    known (a file that did not load), the layers both APIs grade by default."""
    if api in registry.APIS:
        return registry.default_layers(api)
    common = [set(registry.default_layers(a)) for a in registry.APIS]
    return tuple(x for x in registry.default_layers(registry.APIS[0])
                 if all(x in c for c in common))


@dataclass(frozen=True)
class Hidden:
    """Which cases are hidden: a share of them, by a stable hash of the case id, and/or the
    ids matching fnmatch patterns. The same cases for every student and every run."""

    share: float = 0.0
    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"hidden share must be within [0, 1], got {self.share}")

    def is_hidden(self, case_id: str) -> bool:
        if any(fnmatch.fnmatchcase(case_id, p) for p in self.patterns):
            return True
        return zlib.crc32(case_id.encode()) / 2**32 < self.share


NO_HIDDEN = Hidden()


@dataclass(frozen=True)
class Item:
    """One scored unit: a layer's phase, or the policy (layer '', phase 'policy').

    `points` are shared equally among `cases`; `passed` of them earn their share. Of
    these, `hidden_cases` / `hidden_passed` are hidden cases. `missing`: the name the
    submission should define for this layer and does not (then nothing passes)."""

    layer: str
    phase: str
    points: float
    cases: int = 0
    passed: int = 0
    hidden_cases: int = 0
    hidden_passed: int = 0
    missing: str | None = None

    @property
    def name(self) -> str:
        """'conv forward', or 'policy'."""
        return f"{self.layer} {self.phase}" if self.layer else self.phase

    def _share(self, n: int) -> float:
        return self.points * n / self.cases if self.cases else 0.0

    @property
    def earned(self) -> float:
        return self._share(self.passed)

    @property
    def visible_points(self) -> float:
        return self._share(self.cases - self.hidden_cases) if self.cases else self.points

    @property
    def visible_earned(self) -> float:
        return self._share(self.passed - self.hidden_passed)

    @property
    def hidden_points(self) -> float:
        return self._share(self.hidden_cases)

    @property
    def hidden_earned(self) -> float:
        return self._share(self.hidden_passed)

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "phase": self.phase, "points": self.points,
                "earned": round(self.earned, 6), "cases": self.cases, "passed": self.passed,
                "hidden_cases": self.hidden_cases, "hidden_passed": self.hidden_passed,
                "missing": self.missing}


@dataclass(frozen=True)
class Score:
    """A submission's score: its items, and whether it was graded at all (`status`:
    graded | not loaded | grader error; why not is the report's load or grader error)."""

    status: str
    items: tuple[Item, ...]
    api: str | None = None
    hidden: Hidden = field(default=NO_HIDDEN, compare=False)
    unscored_variants: int = 0  # results of *_fast variants: reported, not scored

    @property
    def gradable(self) -> bool:
        """Whether the submission was graded (loaded, and the grader did not fail)."""
        return self.status == GRADED

    @property
    def possible(self) -> float:
        return sum(i.points for i in self.items)

    @property
    def earned(self) -> float:
        return sum(i.earned for i in self.items)

    @property
    def fraction(self) -> float:
        """earned / possible, in [0, 1] (0 with nothing possible)."""
        return self.earned / self.possible if self.possible else 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.fraction

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.layer for i in self.items if i.layer))

    def layer_items(self, layer: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.layer == layer)

    def layer_points(self, layer: str) -> tuple[float, float]:
        """(earned, possible) of one layer, all its phases."""
        items = self.layer_items(layer)
        return sum(i.earned for i in items), sum(i.points for i in items)

    def layer_percent(self, layer: str) -> float | None:
        earned, possible = self.layer_points(layer)
        return 100.0 * earned / possible if possible else None

    @property
    def policy(self) -> Item | None:
        return next((i for i in self.items if i.phase == POLICY), None)

    def text(self) -> str:
        """'Score: 93.8 of 110 points (85.2%)', or why there is none."""
        line = (f"Score: {self.earned:.1f} of {self.possible:g} points "
                f"({self.percent:.1f}%)")
        if self.status != GRADED:
            line += f": {self.status}"
        if self.unscored_variants:
            line += "; *_fast variants are reported, not scored"
        return line

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "api": self.api,
                "earned": round(self.earned, 6), "possible": self.possible,
                "fraction": round(self.fraction, 6),
                "hidden": {"share": self.hidden.share, "patterns": list(self.hidden.patterns)},
                "unscored_variants": self.unscored_variants,
                "items": [i.to_json() for i in self.items]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Score:
        """The score of a `to_json` object (a --json report read back)."""
        items = tuple(Item(str(i["layer"]), str(i["phase"]), float(i["points"]),
                           int(i.get("cases", 0)), int(i.get("passed", 0)),
                           int(i.get("hidden_cases", 0)), int(i.get("hidden_passed", 0)),
                           i.get("missing"))
                      for i in data.get("items") or [])
        hidden = data.get("hidden") or {}
        return cls(str(data.get("status", GRADED)), items, data.get("api"),
                   Hidden(float(hidden.get("share", 0.0)), tuple(hidden.get("patterns", ()))),
                   int(data.get("unscored_variants", 0)))


def _phase_cases(results: Iterable[Result]) -> dict[tuple[str, str], dict[str, bool]]:
    """(layer, phase) -> case id -> whether every output of that phase passes (the main
    implementation only: variants are not scored)."""
    out: dict[tuple[str, str], dict[str, bool]] = {}
    for r in results:
        if r.variant:
            continue
        cases = out.setdefault((r.layer, r.phase), {})
        cases[r.id] = cases.get(r.id, True) and r.passed
    return out


def scored_layers(report: StudentReport) -> tuple[str, ...]:
    """The layers a report is scored on: the graded (configured) ones (a report built by
    hand: its layers); where none are known yet, the defaults for its API. Never what the
    submission defines."""
    return tuple(report.required) or tuple(report.layers) or default_layers(report.api)


def compute(report: StudentReport, hidden: Hidden = NO_HIDDEN) -> Score:
    """The report's score (see the module docstring)."""
    failure = report.grader_error
    status = (GRADER_ERROR if failure else NOT_LOADED if report.load_error is not None
              else GRADED)
    phases = _phase_cases(report.results) if status == GRADED else {}
    undefined = report.undefined
    items = []
    for layer in scored_layers(report):
        for phase, points in phase_points(layer):
            cases = phases.get((layer, phase), {})
            hid = [ok for cid, ok in cases.items() if hidden.is_hidden(cid)]
            name = undefined.get(layer, (None,))[0]
            items.append(Item(layer, phase, points, len(cases), sum(cases.values()),
                              len(hid), sum(hid), name))
    clean = status == GRADED and not report.policy
    items.append(Item("", POLICY, POLICY_POINTS, 1, int(clean)))
    variants = sum(bool(r.variant) for r in report.results)
    return Score(status, tuple(items), report.api, hidden, variants)


def score_of(report: StudentReport, hidden: Hidden | None = None) -> Score:
    """The report's stored score (computed and stored on first use). With `hidden` other
    than the stored score's, the same score split by that choice of hidden cases."""
    stored = report.score
    if stored is None:
        stored = compute(report, hidden or NO_HIDDEN)
        report.score = stored
    if hidden is not None and hidden != stored.hidden:
        return compute(report, hidden)
    return stored
