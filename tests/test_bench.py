"""The benchmark: thread control, ratios, geomeans, JSON; no timed assertions."""

from __future__ import annotations

import json
import math
import types

import pytest
import torch

import impl
from cases.case import Case
from reports.bench import write_bench_json
from reports.cli import main
from reports.timing import BenchShape, fixed_threads, geomean, run_bench, select_shapes

TINY = BenchShape("tiny", Case("conv", 2, 2, 6, 6, 2, (3, 3), (1, 1), (1, 1), "f64"))


def test_geomean_of_known_values():
    assert geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert math.isnan(geomean([]))
    assert geomean([4.0, float("nan")]) == pytest.approx(4.0)


def test_fixed_threads_sets_and_restores_torch_threads():
    before = torch.get_num_threads()
    with fixed_threads(1) as seen:
        assert torch.get_num_threads() == 1
        assert seen[0]["num_threads"] == 1
    assert torch.get_num_threads() == before


def test_default_shapes_cover_the_issue_goals():
    conv = select_shapes(["conv"])
    assert {s.dtype for s in conv} == {"f32", "f64"} and len(conv) == 8
    mnist = [s.case for s in conv if s.name == "mnist"]
    assert all((c.N, c.C, c.H, c.W, c.F, c.kernel) == (100, 1, 28, 28, 30, (5, 5))
               for c in mnist)
    assert len(select_shapes(["pool"], ["f32"])) == 2
    assert {s.layer for s in select_shapes()} == {"conv", "pool", "avgpool", "affine",
                                                   "relu", "softmax"}


def test_quick_bench_json_has_ratio_fields(tmp_path):
    b = run_bench(impl, [TINY], threads=1, repeats=2, quick=True)
    doc = json.loads(write_bench_json(b, tmp_path / "b.json").read_text())
    phases = {r["phase"] for r in doc["ratios"]}
    assert phases == {"forward", "backward", "fwd+bwd"}
    for r in doc["ratios"]:
        assert r["ratio"] > 0
        assert r["ratio"] == pytest.approx(r["impl_ms"] / r["torch_ms"])
        assert r["ratio_min"] > 0
    assert doc["layer_geomeans"]["conv"] > 0
    assert doc["matmul_peak_gflops"]["f64"] > 0
    assert doc["memory"][0]["ratio"] > 0
    assert any(g["goal"].startswith("conv fwd+bwd f64") for g in doc["goals"])


def test_layer_missing_from_module_is_a_note_not_a_crash(tmp_path):
    empty = types.ModuleType("empty")
    b = run_bench(empty, [TINY], threads=1, repeats=1, quick=True)
    assert any("Convolution" in n for n in b.notes)
    doc = json.loads(write_bench_json(b, tmp_path / "b.json").read_text())
    assert all(r["ratio"] is None for r in doc["ratios"])


def test_cli_bench_quick_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--layers", "softmax", "--threads", "1",
                 "--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert doc["threads"] == 1
    assert {"ratios", "geomeans", "layer_geomeans", "goals"} <= set(doc)
    assert "ratio fwd+bwd" in capsys.readouterr().out
