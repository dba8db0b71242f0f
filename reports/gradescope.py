"""Gradescope results.json: one test per layer and phase, partial credit by cases passed,
and one policy test; optional hidden cases and per-test visibility.

The policy test ("policy: no frameworks, no sandbox violations") is always present, so every
student has the same maximum: it scores POLICY_MAX_SCORE (10, as much as one layer phase)
when no policy is violated and 0 when one is (torch imported without --allow-torch, or an
attempt the sandbox refused); the layer tests are scored the same either way.

Hidden cases (`Grading.hidden`: a share of the cases, chosen by a stable hash of the case
id, and/or id patterns) are scored in their own tests, "conv backward (hidden cases)", whose
visibility is `Grading.hidden_visibility` (default: after_published). The visible test says
how many hidden cases failed ("3 of 9 hidden cases fail in conv backward"), never that all
passed while hidden cases fail; it does not say which.
"""

from __future__ import annotations

import fnmatch
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layercheck.reference.result import Result
from layercheck.reports.grading.checker import StudentReport

MAX_SCORE = 10.0
POLICY_MAX_SCORE = 10.0
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

    def is_hidden(self, case_id: str) -> bool:
        """Whether the case is hidden (the same cases for every student and every run)."""
        base = case_id.removesuffix("-fast")
        if any(fnmatch.fnmatchcase(base, p) for p in self.hidden_patterns):
            return True
        return zlib.crc32(base.encode()) / 2**32 < self.hidden_share

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


def _test(name: str, score: float, output: str, max_score: float = MAX_SCORE,
          grading: Grading = VISIBLE) -> dict[str, Any]:
    t = {"name": name, "score": round(score, 3), "max_score": round(max_score, 3),
         "output": output[:MAX_OUTPUT_CHARS]}
    if grading is not VISIBLE:
        t["visibility"] = grading.visibility_of(name)
    return t


def policy_lines(report: StudentReport) -> list[str]:
    """'Policy violation (rule): detail' for each violation."""
    return [f"Policy violation ({p['rule']}): {p['detail']}" for p in report.policy]


def policy_test(report: StudentReport, grading: Grading = VISIBLE) -> dict[str, Any]:
    """The policy test: full marks without a violation, 0 with one (the details as output)."""
    lines = policy_lines(report)
    if not lines:
        return _test(POLICY_TEST, POLICY_MAX_SCORE, "No policy violated.", POLICY_MAX_SCORE,
                     grading)
    return _test(POLICY_TEST, 0.0, "\n".join(lines), POLICY_MAX_SCORE, grading)


def _cases(rs: Iterable[Result]) -> tuple[set[str], set[str]]:
    """(case ids, ids of cases with an output that does not pass)."""
    rs = list(rs)
    return {r.id for r in rs}, {r.id for r in rs if not r.passed}


def _layer_tests(report: StudentReport, layer: str, phase: str, rs: list[Result],
                 grading: Grading) -> list[dict[str, Any]]:
    ids, failed = _cases(rs)
    hidden = {i for i in ids if grading.is_hidden(i)}
    shown = ids - hidden
    name = f"{layer} {phase}"
    share = MAX_SCORE / len(ids)
    tests = []
    if shown:
        passed = shown - failed
        lines = [f"{len(passed)} of {len(shown)} cases pass."]
        if hidden:
            bad = len(hidden & failed)
            lines[0] = (f"{len(passed)} of {len(shown)} visible cases pass; "
                        + (f"{bad} of {len(hidden)} hidden cases fail in {name} (which "
                           f"ones is not shown)." if bad else
                           f"all {len(hidden)} hidden cases pass."))
        lines += [p for p in report.patterns if p.startswith(f"{layer} ")] if not hidden \
            else []
        lines += [f"{s.case} ({s.output}): {s.diagnosis}" for s in report.shrunk
                  if s.layer == layer and not grading.is_hidden(s.original)]
        first = next((r for r in rs if not r.passed and r.id in shown), None)
        if first is not None:
            lines.append(f"First failure: {first.message()}")
        tests.append(_test(name, share * len(passed), "\n".join(lines), share * len(shown),
                           grading))
    if hidden:
        passed = hidden - failed
        lines = [f"{len(passed)} of {len(hidden)} hidden cases pass in {name}."]
        first = next((r for r in rs if not r.passed and r.id in hidden), None)
        if first is not None:
            lines.append(f"First hidden failure: {first.message()}")
        tests.append(_test(name + HIDDEN_SUFFIX, share * len(passed), "\n".join(lines),
                           share * len(hidden), grading))
    return tests


def results_json(report: StudentReport, grading: Grading = VISIBLE) -> dict[str, Any]:
    """The results.json object; valid even when the file could not be loaded at all."""
    layers = report.layers or report.required or ("conv", "pool", "affine", "relu", "softmax")
    failure = getattr(report, "grader_error", None)
    if failure or report.load_error is not None:
        why = (f"GRADER ERROR (not caused by your code; please tell the course staff): "
               f"{failure}" if failure else f"not graded: {report.load_error}")
        tests = [_test(f"{layer} {phase}", 0.0, why, grading=grading)
                 for layer in layers for phase in PHASES]
        tests.append(_test(POLICY_TEST, 0.0, "\n".join(policy_lines(report)) or why,
                           POLICY_MAX_SCORE, grading))
        out = why if failure else f"The file could not be loaded: {report.load_error}"
        out = "\n".join([out, *policy_lines(report)])
        return _with_visibility({"score": 0.0, "output": out, "tests": tests}, grading)
    tests = []
    for layer in layers:
        for phase in PHASES:
            rs = [r for r in report.results if r.layer == layer and r.phase == phase]
            if rs:
                tests += _layer_tests(report, layer, phase, rs, grading)
    if report.policy:
        for t in tests:
            t["output"] = (f"Policy violation: {report.policy[0]['detail']}\n"
                           + t["output"])[:MAX_OUTPUT_CHARS]
    tests.append(policy_test(report, grading))
    graded = [f"Graded file: {report.file}"] if getattr(report, "file", None) else []
    if getattr(report, "isolation", "").startswith("NOT ISOLATED"):  # --unsafe-no-isolation
        graded.insert(0, f"WARNING: {report.isolation}")
    warned = [f"Warning: {w}" for w in getattr(report, "warnings", [])]
    out = "\n".join([*graded, *policy_lines(report), *warned])
    return _with_visibility({"score": round(sum(t["score"] for t in tests), 3), "output": out,
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
