"""PrairieLearn external-grader results.json: the submission's one `Score` as a fraction in
[0, 1], a message, and per-test rows.

The rows are the Gradescope tests (layercheck.reports.gradescope: one per layer and phase,
hidden cases counted honestly, and the policy test), in PrairieLearn's field names (points,
max_points); `score` is `Score.fraction`, the share every other output gives. A submission
that cannot be graded (not loaded: a syntax error, a forbidden import, no layer defined; or
the grader failed on it) is `gradable: false` with its reason in `format_errors`, so the
student keeps the attempt instead of getting a zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from layercheck.reports.gradescope import policy_lines, results_json
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.grading.scoring import score_of

MAX_MESSAGE_CHARS = 4000


def pl_results(report: StudentReport) -> dict[str, Any]:
    """The results.json object PrairieLearn's external grader reads."""
    score = score_of(report)
    if not score.gradable:
        failure = getattr(report, "grader_error", None)
        why = (f"The grader failed on this submission (not caused by your code; please tell "
               f"the course staff): {failure}" if failure else
               f"Your submission could not be loaded: {report.load_error}")
        errors = [why[:MAX_MESSAGE_CHARS], *policy_lines(report)]
        return {"gradable": False, "score": 0.0, "format_errors": errors,
                "message": "Not graded: the submission could not be graded (see the format "
                           "errors).", "tests": []}
    gs = results_json(report)
    tests = [{"name": t["name"], "points": t["score"], "max_points": t["max_score"],
              "output": t.get("output", ""), "message": t.get("output", "").split("\n")[0]}
             for t in gs["tests"]]
    full = sum(t["points"] == t["max_points"] for t in tests)
    message = "\n".join([f"{full} of {len(tests)} tests at full marks.", gs.get("output", "")])
    return {"gradable": True, "score": round(score.fraction, 6),
            "message": message.strip()[:MAX_MESSAGE_CHARS], "tests": tests}


def write_prairielearn(report: StudentReport, path: str | Path) -> Path:
    """Write PrairieLearn's results.json for the report; the path written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(pl_results(report), indent=1))
    return p
