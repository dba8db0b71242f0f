"""PrairieLearn external-grader results.json: a score in [0, 1], a message, per-test rows.

The rows are the Gradescope tests (layercheck.reports.gradescope: one per layer and phase, hidden cases
counted honestly, and the policy test), in PrairieLearn's field names (points, max_points).
A submission the grader failed on is not gradable (`gradable: false`), so PrairieLearn
shows an error instead of a zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from layercheck.reports.gradescope import results_json
from layercheck.reports.grading.checker import StudentReport

MAX_MESSAGE_CHARS = 4000


def pl_results(report: StudentReport) -> dict[str, Any]:
    """The results.json object PrairieLearn's external grader reads."""
    gs = results_json(report)
    failure = getattr(report, "grader_error", None)
    if failure:
        return {"gradable": False, "score": 0.0, "message": failure[:MAX_MESSAGE_CHARS],
                "tests": []}
    tests = [{"name": t["name"], "points": t["score"], "max_points": t["max_score"],
              "output": t.get("output", ""), "message": t.get("output", "").split("\n")[0]}
             for t in gs["tests"]]
    total = sum(t["max_points"] for t in tests)
    score = sum(t["points"] for t in tests) / total if total else 0.0
    if report.load_error is not None:
        message = f"The file could not be loaded: {report.load_error}"
    else:
        message = f"{sum(t['points'] == t['max_points'] for t in tests)} of {len(tests)} " \
                  f"tests at full marks."
    if gs.get("output"):
        message += "\n" + gs["output"]
    return {"gradable": True, "score": round(score, 4), "message": message[:MAX_MESSAGE_CHARS],
            "output": gs.get("output", "")[:MAX_MESSAGE_CHARS], "tests": tests}


def write_prairielearn(report: StudentReport, path: str | Path) -> Path:
    """Write PrairieLearn's results.json for the report; the path written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(pl_results(report), indent=1))
    return p
