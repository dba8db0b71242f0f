"""`layercheck class-report RESULTS_DIR`: the class as a whole, from the --json reports of a
batch: a gradebook CSV (a score per layer per student), failure rates per layer over
stride x pad, the most common diagnoses with an example student each, and a score histogram,
in one self-contained HTML page (no scripts, no plotting library) and CSVs.

Units: a student's scores are their one `Score` (layercheck.reports.grading.scoring), read
from the report: a layer's column is the share of its points earned (0-100), the total the
share of all points (the layers' and the policy's), the same share Gradescope, PrairieLearn
and the terminal give. A heat-map cell is the share of (student, case) pairs at that stride
and pad that fail, over the students who define the layer (the main implementation only:
`*_fast` variants are reported, not scored or counted). A row not graded says why.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layercheck.cases import registry
from layercheck.reference.diagnosis import Diagnosis, render
from layercheck.reference.result import Result
from layercheck.reports.escape import csv_cell, valid_data, valid_text
from layercheck.reports.grading.checker import StudentReport
from layercheck.reports.grading.scoring import Score, compute

WINDOWED = registry.windowed()
MAX_REASON_CHARS = 300
TOP_DIAGNOSES = 15
MAX_KEY_CHARS = 240
MAX_DIAGNOSIS_CHARS = 300  # of a diagnosis read for its key (the key keeps 240)
BINS = 10
_STRIDE_PAD = re.compile(r"-s(\d+(?:x\d+)?)-p(\d+(?:x\d+)?|same|valid)(?:-|$)")


@dataclass
class Student:
    """One submission's --json report, reduced to what the class report needs."""

    name: str
    path: str
    exit_code: int | None
    policy: list[str]
    status: str  # graded | not loaded | grader error
    cases: dict[str, dict[str, str]] = field(default_factory=dict)  # layer -> id -> status
    # key -> (label, example text, example case); the key is the diagnoses' codes and
    # patterns where the report carries them (one bug reads the same for every student)
    diagnoses: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    score: Score | None = None
    reason: str = ""  # why it was not graded (its load error or the grader's failure)

    def layer_score(self, layer: str) -> float | None:
        """Share of the layer's points earned, in percent (None: not graded; 0 where the
        graded layer is not defined)."""
        return self.score.layer_percent(layer) if self.score is not None else None

    def total(self) -> float:
        """Share of all points earned, in percent (0 when nothing was graded): the score's
        fraction, as every other output gives it."""
        return self.score.percent if self.score is not None else 0.0


_ORDER = ("timeout", "error", "fail", "missing", "pass")


def _worst(a: str, b: str) -> str:
    ia = _ORDER.index(a) if a in _ORDER else 0
    ib = _ORDER.index(b) if b in _ORDER else 0
    return a if ia <= ib else b


def diagnosis_key(text: str) -> str:
    """A diagnosis without its numbers, so the same bug reads the same for every student."""
    words = text[:MAX_DIAGNOSIS_CHARS].split("; worst at")[0]  # bounded: regexes stay fast
    words = re.sub(r"^\d+ of \d+ elements \([\d.]+%\) exceed the error bound:? ?", "", words)
    words = re.sub(r"[\w./-]+\.(py|ipynb)\b", "FILE", words)  # each student's own file name
    words = re.sub(r"(?<![\w.])[-+]?\d[\d.e+-]*", "#", words)  # numbers, not col2im
    words = re.sub(r"\s+", " ", words).strip()[:MAX_KEY_CHARS]
    return words or "exceeds the error bound (no pattern recognised)"


def finding_key(layer: str, case: dict[str, Any]) -> tuple[str, str]:
    """(key, label) of a failing case's finding: keyed by its confirmed cause codes (else
    every code) and patterns, labelled by their words without numbers; a report without
    structured diagnoses (an older file) is keyed by its words without numbers."""
    try:
        ds = [Diagnosis(str(d["code"]), dict(d.get("facts") or {}), d.get("pattern"))
              for d in case.get("diagnoses") or []]
    except (KeyError, TypeError, ValueError, AttributeError):
        ds = []
    if not ds:
        label = f"{layer}: {diagnosis_key(str(case['diagnosis']))}"
        return label, label
    chosen = [d for d in ds if d.is_cause] or ds
    key = f"{layer}: " + " ".join(f"{d.code}/{d.pattern or '-'}" for d in chosen)
    return key, f"{layer}: {diagnosis_key(render(chosen))}"


def read_student(path: Path) -> Student | str:
    """The student of one --json file, or why the file is not one."""
    try:
        data = valid_data(json.loads(path.read_text(encoding="utf-8", errors="replace")))
    except (OSError, ValueError, RecursionError) as e:
        return f"{path.name}: not readable JSON ({e})"
    if not isinstance(data, dict) or "implementation" not in data or "cases" not in data:
        return f"{path.name}: not a layercheck --json report (no implementation/cases)"
    impl = str(data["implementation"])
    status = ("grader error" if data.get("grader_error") else
              "not loaded" if data.get("load_error") is not None else "graded")
    s = Student(Path(impl).name.removesuffix(".py") or path.stem, impl, data.get("exit_code"),
                [p.get("detail", "") for p in data.get("policy") or [] if isinstance(p, dict)],
                status)
    s.reason = " ".join(str(data.get("grader_error") or data.get("load_error") or "")
                        .split())[:MAX_REASON_CHARS]
    try:
        s.score = (Score.from_json(data["score"]) if isinstance(data.get("score"), dict)
                   else compute(_report(data)))
    except (KeyError, TypeError, ValueError) as e:
        return f"{path.name}: its score cannot be read ({type(e).__name__}: {e})"
    for c in data["cases"]:
        try:
            layer, cid, st = c["layer"], c["id"], c["status"]
        except (KeyError, TypeError):
            continue
        if c.get("variant"):  # a *_fast variant: reported, not counted
            continue
        layer_cases = s.cases.setdefault(layer, {})
        layer_cases[cid] = _worst(layer_cases.get(cid, "pass"), st)
        if st in ("fail", "error", "timeout") and c.get("diagnosis"):
            key, label = finding_key(layer, c)  # one bug, all its outputs
            s.diagnoses.setdefault(key, (label, c["diagnosis"],
                                         f"{cid} ({c.get('output', '?')})"))
    return s


def _report(data: dict[str, Any]) -> StudentReport:
    """The report of a --json file without a score (an older file), to score it as the
    checker does."""
    r = StudentReport(str(data["implementation"]), api=data.get("api"),
                      required=tuple(data.get("required") or ()),
                      load_error=data.get("load_error"),
                      policy=[p for p in data.get("policy") or [] if isinstance(p, dict)])
    r.grader_error = data.get("grader_error")
    r.results = [Result(c["id"], c["layer"], c["phase"], c["output"], c["status"],
                        variant=c.get("variant") or "") for c in data["cases"]]
    if not r.required:
        r.required = tuple(dict.fromkeys(x.layer for x in r.results))
    return r


def read_class(folder: Path) -> tuple[list[Student], list[str]]:
    """Every student of a results folder, and the files that were skipped (with why)."""
    students, skipped = [], []
    for p in sorted(folder.glob("*.json")):
        s = read_student(p)
        (skipped if isinstance(s, str) else students).append(s)
    return students, skipped


def layers_of(students: list[Student]) -> list[str]:
    """Layers in a stable order: the usual ones first, then any other."""
    seen = {layer for s in students for layer in (s.score.layers if s.score else s.cases)}
    usual = [x for x in registry.family("core") if x in seen]
    return usual + sorted(seen - set(usual))


def gradebook(students: list[Student]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows): one row per student, a score per layer, the total."""
    layers = layers_of(students)
    cols = ["student", "status", "exit_code", *layers, "total", "points", "policy", "reason",
            "file"]
    rows = []
    for s in students:
        row: dict[str, Any] = {"student": s.name, "status": s.status, "exit_code": s.exit_code}
        for layer in layers:
            v = s.layer_score(layer)
            row[layer] = "" if v is None else round(v, 1)
        points = (f"{s.score.earned:.2f} of {s.score.possible:g}" if s.score is not None
                  else "")
        row.update(total=round(s.total(), 2), points=points, policy="; ".join(s.policy),
                   reason=s.reason, file=s.path)
        rows.append(row)
    return cols, rows


def stride_pad(case_id: str) -> tuple[str, str] | None:
    """(stride, pad) from a case id, e.g. ('2', '1') for ...-k3-s2-p1-f64-normal."""
    m = _STRIDE_PAD.search(case_id)
    return (m.group(1), m.group(2)) if m else None


def _num(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 99 for x in v.split("x"))


def heat(students: list[Student]) -> dict[str, dict[tuple[str, str], tuple[int, int]]]:
    """layer -> (stride, pad) -> (failed, checked) over (student, case) pairs."""
    out: dict[str, dict[tuple[str, str], list[int]]] = defaultdict(lambda: defaultdict(
        lambda: [0, 0]))
    for s in students:
        if s.status != "graded":
            continue
        for layer in WINDOWED:
            cases = s.cases.get(layer, {})
            if not cases or all(v == "missing" for v in cases.values()):
                continue
            for cid, st in cases.items():
                sp = stride_pad(cid)
                if sp is None or st == "missing":
                    continue
                cell = out[layer][sp]
                cell[0] += st != "pass"
                cell[1] += 1
    return {layer: {k: (v[0], v[1]) for k, v in cells.items()} for layer, cells in out.items()}


def common_diagnoses(students: list[Student], top: int = TOP_DIAGNOSES
                     ) -> list[tuple[str, int, str, str, str]]:
    """(diagnosis, students, example student, example text, example case), most common
    first."""
    count: Counter[str] = Counter()
    example: dict[str, tuple[str, str, str, str]] = {}
    for s in students:
        for key, (label, text, cid) in s.diagnoses.items():
            count[key] += 1
            example.setdefault(key, (label, s.name, text, cid))
    return [(example[key][0], n, *example[key][1:]) for key, n in count.most_common(top)]


def histogram(students: list[Student], bins: int = BINS) -> list[int]:
    """Students per score bin: [0,10), [10,20), ..., [90,100]."""
    counts = [0] * bins
    for s in students:
        counts[min(int(s.total() // (100 / bins)), bins - 1)] += 1
    return counts


# ---------------------------------------------------------------- HTML

CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}.heat td{width:4.5em}
.grid{display:flex;flex-wrap:wrap;gap:2em}.note{color:#555;font-size:.9em}
.bad{background:#fde2e2}"""


def _color(rate: float) -> str:
    """White (0 %) to red (100 %)."""
    g = int(255 - 180 * rate)
    return f"rgb(255,{g},{g})"


def _heat_html(layer: str, cells: dict[tuple[str, str], tuple[int, int]]) -> str:
    strides = sorted({s for s, _ in cells}, key=_num)
    pads = sorted({p for _, p in cells}, key=_num)
    rows = [f"<table class='heat'><caption>{html.escape(layer)}: failure rate</caption>"
            "<tr><th>stride \\ pad</th>" + "".join(f"<th>p={html.escape(p)}</th>" for p in pads)
            + "</tr>"]
    for s in strides:
        tds = []
        for p in pads:
            if (s, p) not in cells:
                tds.append("<td>-</td>")
                continue
            bad, n = cells[(s, p)]
            rate = bad / n if n else 0.0
            tds.append(f"<td style='background:{_color(rate)}' title='{bad} of {n} "
                       f"(student, case) pairs fail'>{100 * rate:.0f}%</td>")
        rows.append(f"<tr><th>s={html.escape(s)}</th>{''.join(tds)}</tr>")
    return "".join(rows) + "</table>"


def _histogram_svg(counts: list[int]) -> str:
    w, h, pad = 520, 220, 30
    top = max(counts) or 1
    bw = (w - 2 * pad) / len(counts)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h + 40}' "
             f"role='img' aria-label='score histogram'>"]
    for i, c in enumerate(counts):
        bh = (h - pad) * c / top
        x, y = pad + i * bw, h - bh
        parts.append(f"<rect x='{x + 2:.1f}' y='{y:.1f}' width='{bw - 4:.1f}' "
                     f"height='{bh:.1f}' fill='#4a7ab5'><title>{c} students</title></rect>")
        parts.append(f"<text x='{x + bw / 2:.1f}' y='{y - 4:.1f}' font-size='12' "
                     f"text-anchor='middle'>{c}</text>")
        parts.append(f"<text x='{x + bw / 2:.1f}' y='{h + 16}' font-size='11' "
                     f"text-anchor='middle'>{i * 100 // len(counts)}-"
                     f"{(i + 1) * 100 // len(counts)}</text>")
    parts.append(f"<line x1='{pad}' y1='{h}' x2='{w - pad}' y2='{h}' stroke='#333'/>")
    parts.append(f"<text x='{w / 2}' y='{h + 34}' font-size='12' text-anchor='middle'>"
                 f"score (% of points earned)</text></svg>")
    return "".join(parts)


def _table_html(cols: list[str], rows: list[dict[str, Any]], left: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th class='{'l' if c in left else ''}'>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cls = " class='bad'" if r.get("status") not in (None, "graded") else ""
        tds = "".join(f"<td class='{'l' if c in left else ''}'>{html.escape(str(r.get(c, '')))}"
                      f"</td>" for c in cols)
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(students: list[Student], skipped: list[str], title: str) -> str:
    """The class report page."""
    cols, rows = gradebook(students)
    statuses = Counter(s.status for s in students)
    diag = common_diagnoses(students)
    heats = heat(students)
    totals = sorted(s.total() for s in students)
    median = totals[len(totals) // 2] if totals else 0.0
    h = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
         f"</title><style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
         f"<p>{len(students)} students: " + ", ".join(f"{n} {k}" for k, n in
                                                    sorted(statuses.items()))
         + f". Median score {median:.0f}%. Scores are shares of the points earned: each "
           f"graded layer's phases and the policy, the same score every output gives.</p>"]
    if skipped:
        h.append("<p class='note'>Skipped files: " + html.escape("; ".join(skipped)) + "</p>")
    h += ["<h2>Scores</h2>", _histogram_svg(histogram(students))]
    h += ["<h2>Failure rate per layer over stride &times; pad</h2>",
          "<p class='note'>Share of (student, case) pairs failing, over students who define "
          "the layer; hover a cell for the counts.</p><div class='grid'>"]
    h += [_heat_html(layer, heats[layer]) for layer in WINDOWED if heats.get(layer)]
    h.append("</div>")
    h += ["<h2>Most common diagnoses</h2>",
          "<p class='note'>Counted once per student; numbers are replaced by #.</p>"]
    drows = [{"students": n, "diagnosis": key, "example student": who, "example case": cid,
              "example text": text[:300]} for key, n, who, text, cid in diag]
    h.append(_table_html(["students", "diagnosis", "example student", "example case",
                          "example text"], drows,
                         left=("diagnosis", "example student", "example case", "example text"))
             if drows else "<p>No failures.</p>")
    h += ["<h2>Gradebook</h2>", "<p class='note'>Per layer: % of the layer's points earned; "
          "0 where a graded layer is not defined; empty: not graded. Total: % of all points "
          "(layers and policy). A row not graded says why. Full table in gradebook.csv.</p>",
          _table_html([c for c in cols if c != "file"], rows,
                      left=("student", "status", "policy", "reason")),
          "</body></html>"]
    return "\n".join(h)


def write_csv(path: Path, cols: list[str], rows: list[dict[str, Any]]) -> None:
    """The rows as CSV; a text cell a spreadsheet would run as a formula gets a leading '
    (student names, policy details and diagnoses come from the submissions)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows({k: csv_cell(valid_data(v)) for k, v in r.items()} for r in rows)


def write_class_report(results: Path, out: Path, title: str = "Class report") -> list[Path]:
    """Write index.html, gradebook.csv, heatmap.csv and diagnoses.csv; the paths written."""
    students, skipped = read_class(results)
    if not students:
        raise ValueError(f"no layercheck --json reports in {results}"
                         + (f" (skipped: {'; '.join(skipped)})" if skipped else ""))
    out.mkdir(parents=True, exist_ok=True)
    cols, rows = gradebook(students)
    write_csv(out / "gradebook.csv", cols, rows)
    hrows = [{"layer": layer, "stride": s, "pad": p, "failed": bad, "checked": n,
              "failure_rate": round(bad / n, 4) if n else ""}
             for layer, cells in heat(students).items()
             for (s, p), (bad, n) in sorted(cells.items(), key=lambda kv: (_num(kv[0][0]),
                                                                           _num(kv[0][1])))]
    write_csv(out / "heatmap.csv", ["layer", "stride", "pad", "failed", "checked",
                                    "failure_rate"], hrows)
    drows = [{"diagnosis": key, "students": n, "example_student": who, "example_case": cid,
              "example_text": text} for key, n, who, text, cid in common_diagnoses(students)]
    write_csv(out / "diagnoses.csv", ["diagnosis", "students", "example_student",
                                      "example_case", "example_text"], drows)
    (out / "index.html").write_text(valid_text(render_html(students, skipped, title)),
                                    encoding="utf-8")
    return [out / n for n in ("index.html", "gradebook.csv", "heatmap.csv", "diagnoses.csv")]


def cmd_class_report(args: argparse.Namespace) -> int:
    results = Path(args.results)
    if not results.is_dir():
        print(f"layercheck class-report: {results} is not a folder (give the --json folder "
              f"of a batch)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else results / "class-report"
    try:
        paths = write_class_report(results, out, args.title)
    except ValueError as e:
        print(f"layercheck class-report: {e}", file=sys.stderr)
        return 2
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("class-report", help="gradebook, heat maps and diagnoses of a class",
                       description=__doc__.split("\n\n")[0])
    c.add_argument("results", metavar="RESULTS_DIR",
                   help="folder of --json reports (layercheck check ... --json RESULTS_DIR)")
    c.add_argument("--out", help="output folder (default RESULTS_DIR/class-report)")
    c.add_argument("--title", default="Class report", help="page title")
    c.set_defaults(func=cmd_class_report)
