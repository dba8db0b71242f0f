"""The report's renderers and `layercheck report`: files, layers, images, failing rows."""

from __future__ import annotations

import base64
import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from layercheck import impl
from layercheck.cases.adapters import Run
from layercheck.cases.case import Case
from layercheck.cases.grids import grid
from layercheck.reference.result import Result
from layercheck.reference.verdicts import module_runner
from layercheck.reports import report, training
from layercheck.reports.cli import main
from layercheck.reports.frame import to_frame
from layercheck.reports.render import render_html, render_markdown, write_all
from layercheck.reports.timing import BenchShape, run_bench

LAYERS = ("conv", "pool", "avgpool", "affine", "relu", "softmax")
FAKE_ID = "conv-fabricated-failure"


def _small_grid(per_layer: int = 4) -> list[Case]:
    cases: list[Case] = []
    for layer in LAYERS:
        cases += grid("quick", (layer,))[:per_layer]
    return cases


def _fake_failure(like: Case) -> Result:
    return Result(FAKE_ID, "conv", "backward", "dW", "fail", max_abs_err=3.0,
                  max_rel_err=float("inf"), err_over_bound=float("inf"), mismatched=5,
                  size=10, diagnosis="fabricated failure", params=like.params())


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    cases = _small_grid()
    seconds: dict[str, float] = {}
    results = report.run_cases(cases, module_runner(impl), progress=False, seconds=seconds)
    conv = next(c for c in cases if c.layer == "conv")
    return to_frame([*results, _fake_failure(conv)], seconds)


@pytest.fixture(scope="module")
def bench():
    tiny = BenchShape("tiny", Case("conv", 2, 2, 6, 6, 2, (3, 3), (1, 1), (1, 1), "f32"))
    return run_bench(impl, [tiny], threads=1, repeats=2, quick=True)


@pytest.fixture(scope="module")
def written(frame, bench, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    section = ("## Training\n\ntraining-marker-md\n",
               "<h2>Training</h2><p>training-marker-html</p>")
    return write_all(frame, out, title="test report", speed=bench,
                     env={"cpu": "test cpu", "threads_used": 1}, extra_sections=[section])


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.fail_rows: list[str] = []
        self._in_fail = False
        self.tags = 0

    def handle_starttag(self, tag, attrs):
        self.tags += 1
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a.get("src") or "")
        if tag == "tr":
            self._in_fail = "fail" in (a.get("class") or "").split()
            if self._in_fail:
                self.fail_rows.append("")

    def handle_endtag(self, tag):
        if tag == "tr":
            self._in_fail = False

    def handle_data(self, data):
        if self._in_fail:
            self.fail_rows[-1] += data + " "


def _parse(text: str) -> _Images:
    p = _Images()
    p.feed(text)
    p.close()
    return p


def test_every_file_written(written):
    assert set(written) == {"csv", "json", "md", "html"}
    for path in written.values():
        assert path.exists() and path.stat().st_size > 0


def test_every_layer_in_every_format(written):
    rows = list(csv.DictReader(written["csv"].open()))
    doc = json.loads(written["json"].read_text())
    md = written["md"].read_text()
    page = written["html"].read_text()
    for layer in LAYERS:
        assert any(r["layer"] == layer for r in rows), layer
        assert any(r["layer"] == layer for r in doc["cases"]), layer
        assert f"### {layer}" in md, layer
        assert f"id='layer-{layer}'" in page, layer


def test_json_is_strict_and_holds_rows_summary_environment(written, frame):
    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    doc = json.loads(written["json"].read_text(), parse_constant=no_constants)
    assert len(doc["cases"]) == len(frame)
    assert doc["summary"]["outputs"] == len(frame)
    assert doc["environment"]["cpu"] == "test cpu"
    assert {"ratios", "geomeans", "goals"} <= set(doc["speed"])


def test_html_parses_and_embeds_png_images(written, frame):
    parsed = _parse(written["html"].read_text())
    pngs = [s for s in parsed.srcs if s.startswith("data:image/png;base64,")]
    # one heatmap per layer plus the speed-ratio chart, all embedded, none linked
    assert len(pngs) >= frame["layer"].nunique() + 1
    assert len(pngs) == len(parsed.srcs)
    for src in pngs:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_failing_row_shows_as_failing_in_csv(written):
    rows = [r for r in csv.DictReader(written["csv"].open()) if r["id"] == FAKE_ID]
    assert [r["status"] for r in rows] == ["fail"]
    assert float(rows[0]["err_over_bound"]) == float("inf")


def test_failing_row_shows_as_failing_in_json(written):
    doc = json.loads(written["json"].read_text())
    rows = [r for r in doc["cases"] if r["id"] == FAKE_ID]
    assert [r["status"] for r in rows] == ["fail"]
    assert rows[0]["err_over_bound"] in (None, "inf")
    assert doc["summary"]["all_passed"] is False
    assert doc["summary"]["not_passed"] >= 1


def test_failing_row_shows_as_failing_in_markdown(written):
    md = written["md"].read_text()
    not_passed = md.split("## Not passed", 1)[1].split("\n## ", 1)[0]
    line = next(ln for ln in not_passed.splitlines() if FAKE_ID in ln)
    assert "| fail" in line
    assert "NOT ALL PASSED" in md


def test_failing_row_shows_as_failing_in_html(written):
    parsed = _parse(written["html"].read_text())
    assert any(FAKE_ID in row and "fail" in row for row in parsed.fail_rows)


def test_passing_frame_has_no_failure_section(frame):
    ok = frame[frame["id"] != FAKE_ID]
    assert (ok["status"] == "pass").all(), ok[ok["status"] != "pass"]["id"].tolist()
    assert "## Not passed" not in render_markdown(ok, "t")
    assert "Not passed" not in render_html(ok, "t", plots=False)


def test_extra_sections_and_environment_rendered(written):
    assert "training-marker-md" in written["md"].read_text()
    assert "training-marker-html" in written["html"].read_text()
    assert "test cpu" in written["md"].read_text()


def _cli_report(tmp_path: Path, monkeypatch, *extra: str) -> int:
    monkeypatch.setattr(training, "training_section",
                        lambda out_dir: ("## Training\n\nmd-from-training\n",
                                         "<h2>Training</h2><p>html-from-training</p>"))
    return main(["report", "--grid", "quick", "--layers", "relu", "--no-speed",
                 "--out", str(tmp_path), *extra])


def test_cli_report_relu_exits_0_and_writes_files(tmp_path, monkeypatch, capsys):
    assert _cli_report(tmp_path, monkeypatch) == 0
    for name in ("results.csv", "results.json", "report.md", "report.html"):
        assert (tmp_path / name).stat().st_size > 0
    assert "md-from-training" in (tmp_path / "report.md").read_text()
    assert "html-from-training" in (tmp_path / "report.html").read_text()
    doc = json.loads((tmp_path / "results.json").read_text())
    assert {r["layer"] for r in doc["cases"]} == {"relu"}


def test_cli_report_exits_1_and_still_writes_when_something_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "module_runner", lambda mod: lambda case, arrays: Run(
        missing=True))
    assert _cli_report(tmp_path, monkeypatch, "--no-training") == 1
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["cases"] and {r["status"] for r in doc["cases"]} == {"missing"}
    assert "md-from-training" not in (tmp_path / "report.md").read_text()
    assert "missing" in (tmp_path / "report.html").read_text()


def test_report_help_explains_each_option(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = capsys.readouterr().out
    for opt in ("--grid", "--out", "--layers", "--dtype", "--no-speed", "--no-training",
                "--threads", "--repeats"):
        assert opt in text


def test_empty_frame_is_not_reported_as_passing(tmp_path):
    paths = write_all(to_frame([]), tmp_path, plots=False)
    assert "all passed" not in paths["md"].read_text()
    assert json.loads(paths["json"].read_text())["summary"]["all_passed"] is False


def _goals(*met: bool | None) -> list[dict]:
    return [{"goal": f"goal {i}", "value": 2.0 if m is False else 0.5, "limit": 1.0, "met": m}
            for i, m in enumerate(met)]


def test_summary_counts_missed_speed_goals_when_every_output_passed(frame, bench,
                                                                   monkeypatch):
    ok = frame[frame["id"] != FAKE_ID]
    monkeypatch.setattr(bench, "goals", lambda: _goals(True, False, True, False, None))
    md = render_markdown(ok, "t", speed=bench)
    summary_part = md[md.index("## Summary"):md.index("## Errors per layer")]
    assert "**all passed**" in summary_part
    assert "**2 of 5 speed goals missed**; 1 not measured: goal 1; goal 3" in summary_part
    page = render_html(ok, "t", speed=bench, plots=False)
    speed_line = re.search(r"<p class='([\w-]+)'>Speed: ", page)
    assert speed_line and speed_line.group(1) == "verdict-fail", "a miss is never green"
    monkeypatch.setattr(bench, "goals", lambda: _goals(True, True))
    assert "Speed: **2 of 2 speed goals met**" in render_markdown(ok, "t", speed=bench)
    assert re.search(r"<p class='verdict-pass'>Speed: ",
                     render_html(ok, "t", speed=bench, plots=False))


def test_speed_tables_carry_their_units(written):
    md = written["md"].read_text()
    speed = md[md.index("## Speed"):]
    header = "| ms per call: median [IQR]; ratio: impl / PyTorch time"
    assert header in speed, "the unit heads each layer's speed table"
    assert "| impl forward, ms " in speed and "| PyTorch backward, ms " in speed
    assert "| ratio fwd+bwd " in speed
    assert not re.search(r"\d\.?\d*e[+-]\d", speed.split("### Shapes")[0].split(
        "### Convolution GFLOP/s")[0].split("Speed goals:")[1]), "times read as plain numbers"
    assert "| goal" in speed and "measured ratio" in speed
    assert "geomean fwd+bwd time ratio, impl/PyTorch" in speed
    assert "impl GFLOP/s" in speed and "PyTorch GFLOP/s" in speed


def test_the_page_explains_its_terms(frame, bench):
    sections = [("## Training\n\nnear-kinks met: 3\n", "<h2>Training</h2>")]
    keep = frame.iloc[:1].assign(layer="dropout", output="keep", id="dropout-keep-case")
    df = pd.concat([frame, keep])
    md = render_markdown(df, "t", speed=bench, extra_sections=sections)
    terms = md[md.index("## Terms"):]
    for term in ("err/bound", "near-kinks", "keep (dropout)", "time ratio", "ms, median [IQR]",
                 "fastest blocks"):
        assert f"**{term}" in terms, term
    page = render_html(df, "t", speed=bench, extra_sections=[(s[0], s[1]) for s in sections],
                       plots=False)
    assert "<h2 id='terms'>Terms</h2>" in page and "<dt>near-kinks</dt>" in page
    assert "near-kinks" not in render_markdown(frame, "t").split("## Terms")[1], (
        "a term the page does not use is not listed")
