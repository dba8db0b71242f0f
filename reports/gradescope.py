"""Gradescope results.json: one test per layer and phase, partial credit by cases passed,
and one policy test.

The policy test ("policy: no frameworks, no sandbox violations") is always present, so every
student has the same maximum: it scores POLICY_MAX_SCORE (10, as much as one layer phase)
when no policy is violated and 0 when one is (torch imported without --allow-torch, or an
attempt the sandbox refused); the layer tests are scored the same either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cases.student.checker import StudentReport

MAX_SCORE = 10.0
POLICY_MAX_SCORE = 10.0
POLICY_TEST = "policy: no frameworks, no sandbox violations"
PHASES = ("forward", "backward")
MAX_OUTPUT_CHARS = 4000


def _test(name: str, score: float, output: str, max_score: float = MAX_SCORE) -> dict[str, Any]:
    return {"name": name, "score": round(score, 3), "max_score": max_score,
            "output": output[:MAX_OUTPUT_CHARS]}


def policy_lines(report: StudentReport) -> list[str]:
    """'Policy violation (rule): detail' for each violation."""
    return [f"Policy violation ({p['rule']}): {p['detail']}" for p in report.policy]


def policy_test(report: StudentReport) -> dict[str, Any]:
    """The policy test: full marks without a violation, 0 with one (the details as output)."""
    lines = policy_lines(report)
    if not lines:
        return _test(POLICY_TEST, POLICY_MAX_SCORE, "No policy violated.", POLICY_MAX_SCORE)
    return _test(POLICY_TEST, 0.0, "\n".join(lines), POLICY_MAX_SCORE)


def results_json(report: StudentReport) -> dict[str, Any]:
    """The results.json object; valid even when the file could not be loaded at all."""
    layers = report.layers or report.required or ("conv", "pool", "affine", "relu", "softmax")
    if report.load_error is not None:
        tests = [_test(f"{layer} {phase}", 0.0, f"not graded: {report.load_error}")
                 for layer in layers for phase in PHASES]
        tests.append(_test(POLICY_TEST, 0.0, "\n".join(policy_lines(report))
                           or f"not graded: {report.load_error}", POLICY_MAX_SCORE))
        out = "\n".join([f"The file could not be loaded: {report.load_error}",
                         *policy_lines(report)])
        return {"score": 0.0, "output": out, "tests": tests}
    tests = []
    for layer in layers:
        for phase in PHASES:
            rs = [r for r in report.results if r.layer == layer and r.phase == phase]
            if not rs:
                continue
            cases = {r.id for r in rs}
            passed = {r.id for r in rs} - {r.id for r in rs if not r.passed}
            lines = [f"{len(passed)} of {len(cases)} cases pass."]
            lines += [p for p in report.patterns if p.startswith(f"{layer} ")]
            lines += [f"{s.case} ({s.output}): {s.diagnosis}" for s in report.shrunk
                      if s.layer == layer]
            first = next((r for r in rs if not r.passed), None)
            if first is not None:
                lines.append(f"First failure: {first.message()}")
            tests.append(_test(f"{layer} {phase}", MAX_SCORE * len(passed) / len(cases),
                               "\n".join(lines)))
    if report.policy:
        for t in tests:
            t["output"] = (f"Policy violation: {report.policy[0]['detail']}\n"
                           + t["output"])[:MAX_OUTPUT_CHARS]
    tests.append(policy_test(report))
    out = "\n".join(policy_lines(report))
    return {"score": round(sum(t["score"] for t in tests), 3), "output": out, "tests": tests}


def write_gradescope(report: StudentReport, path: str | Path) -> Path:
    """Write results.json for the report; the path written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(results_json(report), indent=1))
    return p
