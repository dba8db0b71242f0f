"""Gradescope results.json: the submission's one `Score` (layercheck.reports.grading.scoring)
as Gradescope tests, one per graded layer and phase plus the policy test.

Each test's points are the score item's; the total is `Score.earned` of `Score.possible`,
the same share as every other output gives, and the maximum is the same for every student
(a phase that could not run scores 0 of its points, never disappears). Hidden cases
(`Grading.hidden`) are their own tests, "conv backward (hidden cases)", whose visibility is
`Grading.hidden_visibility` (default: after_published). The visible test says how many
hidden cases failed ("3 of 9 hidden cases fail in conv backward"), never that all passed
while hidden cases fail; it does not say which.

Texts are for a student who cannot pass command-line flags: a missing layer's advice says
what to rename or define in the file; a phase's test speaks of its own phase only.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layercheck.reference.patterns import pattern_lines
from layercheck.reference.result import Result
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.grading.scoring import POLICY_POINTS, Hidden, Item, score_of

POLICY_MAX_SCORE = POLICY_POINTS
POLICY_TEST = "policy: no frameworks, no sandbox violations"
PHASES = ("forward", "backward")
MAX_OUTPUT_CHARS = 4000
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
HIDDEN_SUFFIX = " (hidden cases)"


@dataclass
class Grading:
    """How results are shown: which cases are hidden, and each test's visibility."""

    hidden_share: float = 0.0  # share of cases hidden, by a stable hash of the case id
    hidden_patterns: tuple[str, ...] = ()  # fnmatch patterns on case ids, e.g. "*-s2-*"
    hidden_visibility: str = "after_published"
    visibility: dict[str, str] = field(default_factory=dict)  # test-name pattern -> setting
    default_visibility: str = "visible"

    def __post_init__(self) -> None:
        if not 0.0 <= self.hidden_share <= 1.0:
            raise ValueError(f"hidden share must be within [0, 1], got {self.hidden_share}")
        for v in (self.hidden_visibility, self.default_visibility, *self.visibility.values()):
            if v not in VISIBILITIES:
                raise ValueError(f"unknown Gradescope visibility {v!r}; choose from "
                                 f"{', '.join(VISIBILITIES)}")

    @property
    def hidden(self) -> Hidden:
        """The hidden cases, as the score splits them."""
        return Hidden(self.hidden_share, tuple(self.hidden_patterns))

    def is_hidden(self, case_id: str) -> bool:
        """Whether the case is hidden (the same cases for every student and every run)."""
        return self.hidden.is_hidden(case_id)

    def visibility_of(self, test: str) -> str:
        """The test's visibility: the first matching pattern, else the default."""
        for pattern, v in self.visibility.items():
            if fnmatch.fnmatchcase(test, pattern):
                return v
        if test.endswith(HIDDEN_SUFFIX):
            return self.hidden_visibility
        return self.default_visibility

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grading:
        """From a config's "grading" object; unknown keys are refused by name."""
        known = {"hidden_share", "hidden_patterns", "hidden_visibility", "visibility",
                 "default_visibility"}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown grading setting(s) {sorted(extra)}; known: "
                             f"{sorted(known)}")
        return cls(float(data.get("hidden_share", 0.0)),
                   tuple(data.get("hidden_patterns", ())),
                   data.get("hidden_visibility", "after_published"),
                   dict(data.get("visibility", {})),
                   data.get("default_visibility", "visible"))

    def to_json(self) -> dict[str, Any]:
        """The config's "grading" object."""
        return {"hidden_share": self.hidden_share, "hidden_patterns": list(self.hidden_patterns),
                "hidden_visibility": self.hidden_visibility, "visibility": self.visibility,
                "default_visibility": self.default_visibility}


VISIBLE = Grading()


def _test(name: str, score: float, output: str, max_score: float,
          grading: Grading = VISIBLE) -> dict[str, Any]:
    t = {"name": name, "score": round(score, 4), "max_score": round(max_score, 4),
         "output": output[:MAX_OUTPUT_CHARS]}
    if grading is not VISIBLE:
        t["visibility"] = grading.visibility_of(name)
    return t


def policy_lines(report: StudentReport) -> list[str]:
    """'Policy violation (rule): detail' for each violation."""
    return [f"Policy violation ({p['rule']}): {p['detail']}" for p in report.policy]


def policy_test(report: StudentReport, grading: Grading = VISIBLE,
                item: Item | None = None) -> dict[str, Any]:
    """The policy test: full marks without a violation, 0 with one (the details as output)."""
    item = item or score_of(report).policy
    lines = policy_lines(report)
    text = "\n".join(lines) or ("No policy violated." if item.earned else "Not graded.")
    return _test(POLICY_TEST, item.earned, text, item.points, grading)


def missing_advice(report: StudentReport, layer: str, name: str) -> str:
    """What a student can do about a graded layer their file does not define (no flags)."""
    near = report.undefined.get(layer, (name, ()))[1]
    if near:
        return (f"Your file defines no {name}, which is graded. If {near[0]} is your {layer} "
                f"layer, rename it to {name}, or add the line `{name} = {near[0]}` at the "
                f"end of your file.")
    return f"Your file defines no {name}, which is graded: define it (spelled exactly so)."


def _phase_lines(report: StudentReport, item: Item, rs: list[Result],
                 grading: Grading) -> list[str]:
    """What the phase's test says about its own phase: its patterns (without hidden
    cases), its smallest failures, its first visible failure."""
    shown = [r for r in rs if not grading.is_hidden(r.id)]
    lines = []
    if item.hidden_cases == 0 and report.cases:
        lines += pattern_lines(shown, report.cases)
    phase_of = {(r.id, r.output): r.phase for r in rs}
    lines += [f"{s.case} ({s.output}): {s.diagnosis}" for s in report.shrunk
              if s.layer == item.layer and phase_of.get((s.original, s.output)) == item.phase
              and not grading.is_hidden(s.original)]
    first = next((r for r in shown if not r.passed), None)
    if first is not None:
        lines.append(f"First failure: {first.message()}")
    return lines


def _layer_tests(report: StudentReport, item: Item, grading: Grading) -> list[dict[str, Any]]:
    name = item.name
    rs = [r for r in report.results if r.layer == item.layer and r.phase == item.phase
          and not r.variant]
    if item.missing:
        return [_test(name, 0.0, missing_advice(report, item.layer, item.missing),
                      item.points, grading)]
    if not item.cases:
        why = next((r.diagnosis for r in report.results if r.layer == item.layer
                    and r.status == "missing"), "") or "no case of this phase was run"
        return [_test(name, 0.0, f"Not checked: {why}.", item.points, grading)]
    tests = []
    shown = item.cases - item.hidden_cases
    if shown:
        passed = item.passed - item.hidden_passed
        head = f"{passed} of {shown} cases pass."
        if item.hidden_cases:
            bad = item.hidden_cases - item.hidden_passed
            head = (f"{passed} of {shown} visible cases pass; "
                    + (f"{bad} of {item.hidden_cases} hidden cases fail in {name} (which "
                       f"ones is not shown)." if bad else
                       f"all {item.hidden_cases} hidden cases pass."))
        lines = [head, *_phase_lines(report, item, rs, grading)]
        tests.append(_test(name, item.visible_earned, "\n".join(lines), item.visible_points,
                           grading))
    if item.hidden_cases:
        lines = [f"{item.hidden_passed} of {item.hidden_cases} hidden cases pass in {name}."]
        first = next((r for r in rs if not r.passed and grading.is_hidden(r.id)), None)
        if first is not None:
            lines.append(f"First hidden failure: {first.message()}")
        tests.append(_test(name + HIDDEN_SUFFIX, item.hidden_earned, "\n".join(lines),
                           item.hidden_points, grading))
    return tests


def results_json(report: StudentReport, grading: Grading = VISIBLE) -> dict[str, Any]:
    """The results.json object of the report's score; valid even when the file could not be
    loaded at all (every test then 0 of its points, the same maximum)."""
    score = score_of(report, grading.hidden)
    failure = getattr(report, "grader_error", None)
    if not score.gradable:
        why = (f"GRADER ERROR (not caused by your code; please tell the course staff): "
               f"{failure}" if failure else
               f"Your submission could not be loaded, so nothing was graded: "
               f"{report.load_error}")
        short = ("Not graded: the grader failed (see the top of this page)." if failure else
                 "Not graded: your submission could not be loaded (see the top of this page).")
        tests = [_test(i.name, 0.0, short if i.layer else
                       "\n".join(policy_lines(report)) or short, i.points, grading)
                 for i in score.items]
        return _with_visibility({"score": 0.0, "output": "\n".join([why,
                                                                   *policy_lines(report)]),
                                 "tests": tests}, grading)
    tests = []
    for item in score.items:
        tests += (_layer_tests(report, item, grading) if item.layer
                  else [policy_test(report, grading, item)])
    graded = [f"Graded file: {report.file}"] if getattr(report, "file", None) else []
    if getattr(report, "isolation", "").startswith("NOT ISOLATED"):  # --unsafe-no-isolation
        graded.insert(0, f"WARNING: {report.isolation}")
    warned = [f"Warning: {w}" for w in getattr(report, "warnings", [])]
    out = "\n".join([score.text(), *graded, *policy_lines(report), *warned])
    return _with_visibility({"score": round(score.earned, 4), "output": out,
                             "tests": tests}, grading)


def _with_visibility(data: dict[str, Any], grading: Grading) -> dict[str, Any]:
    if grading is not VISIBLE:
        data["visibility"] = grading.default_visibility
        data["stdout_visibility"] = "hidden"
    return data


def write_gradescope(report: StudentReport, path: str | Path,
                     grading: Grading = VISIBLE) -> Path:
    """Write results.json for the report; the path written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(results_json(report, grading), indent=1))
    return p
