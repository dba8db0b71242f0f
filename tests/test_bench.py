"""The benchmark: thread control, ratios, geomeans, JSON; no timed assertions."""

from __future__ import annotations

import json
import math
import types

import pandas as pd
import pytest
import torch
from layercheck import impl
from layercheck.cases.case import Case
from layercheck.reports.bench import write_bench_json
from layercheck.reports.cli import main
from layercheck.reports.timing import (
    Bench,
    BenchShape,
    fixed_threads,
    geomean,
    run_bench,
    select_shapes,
)

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
    assert {s.dtype for s in conv} == {"f32", "f64"} and len(conv) == 12
    mnist = [s.case for s in conv if s.name == "mnist"]
    assert all((c.N, c.C, c.H, c.W, c.F, c.kernel) == (100, 1, 28, 28, 30, (5, 5))
               for c in mnist)
    assert any(s.case.groups == s.case.C > 1 for s in conv), "no depthwise conv shape"
    assert any(s.case.kernel == (1, 1) for s in conv), "no 1x1 conv shape"
    assert len(select_shapes(["pool"], ["f32"])) == 2
    assert {s.layer for s in select_shapes()} == {"conv", "pool", "avgpool", "affine",
                                                   "relu", "softmax", "train"}
    train = select_shapes(["train"])
    assert {(s.net, s.dtype) for s in train} == {(n, d) for n in ("SimpleConvNet", "LeNet",
                                                                  "AlexNet")
                                                  for d in ("f32", "f64")}
    assert all(s.case.x_shape == (100, 1, 28, 28) for s in train if s.net != "AlexNet")


def _bench_of(ratios: dict[tuple[str, str, str, str], float]) -> Bench:
    """A Bench whose impl takes ratio ms where PyTorch takes 1 ms, per (shape, layer,
    dtype, phase)."""
    rows = [{"shape": k[0], "layer": k[1], "dtype": k[2], "phase": k[3], "side": side,
             "median_ms": ms, "iqr_ms": 0.0, "min_ms": ms, "repeats": 1}
            for k, r in ratios.items() for side, ms in (("impl", r), ("PyTorch", 1.0))]
    return Bench([], 2, 1, pd.DataFrame(rows))


def test_conv_goal_is_the_worst_shape_not_the_mean():
    b = _bench_of({("a", "conv", "f32", "fwd+bwd"): 0.5, ("b", "conv", "f32", "fwd+bwd"): 1.3})
    (g,) = [g for g in b.goals() if g["goal"].startswith("conv fwd+bwd f32")]
    assert g["value"] == pytest.approx(1.3) and g["met"] is False, (
        "a conv shape at 1.3x must miss the per-shape 1.25 goal even when the mean passes")


def test_pool_backward_has_its_own_goal():
    b = _bench_of({("p", "pool", "f32", "fwd+bwd"): 0.6, ("p", "pool", "f32", "backward"): 3.0,
                   ("p", "pool", "f32", "forward"): 0.4})
    goals = {g["goal"]: g for g in b.goals()}
    back = goals["max pool backward geomean impl/PyTorch"]
    assert back["value"] == pytest.approx(3.0) and back["met"] is False
    assert goals["max pool fwd+bwd geomean impl/PyTorch"]["met"] is True


def test_untimed_training_net_leaves_its_goal_unknown():
    b = _bench_of({("n", "train", "f64", "fwd+bwd"): float("nan"),
                   ("m", "train", "f64", "fwd+bwd"): 0.5})
    (g,) = [g for g in b.goals() if g["goal"].startswith("training step f64")]
    assert g["met"] is None, "a net that was not timed must not let the goal pass"


@pytest.mark.parametrize(("net", "x"), [("SimpleConvNet", (2, 1, 12, 12)),
                                         ("AlexNet", (2, 3, 32, 32))])
def test_quick_bench_times_a_training_step(net, x):
    net = BenchShape("tiny net", Case("conv", *x, 1, dtype="f64"), net=net)
    b = run_bench(impl, [net], threads=1, repeats=1, quick=True)
    assert not b.notes or all("load average" in n for n in b.notes), b.notes
    r = b.ratios().set_index("phase")
    assert r.loc["fwd+bwd", "impl_ms"] > 0 and r.loc["fwd+bwd", "torch_ms"] > 0
    assert r.loc["forward", "ratio"] > 0


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


def test_cpu_time_bench_runs_on_one_thread_only(tmp_path, capsys):
    with pytest.raises(ValueError, match="threads=1"):
        run_bench(impl, [TINY], threads=2, repeats=1, quick=True, clock="cpu")
    b = run_bench(impl, [TINY], threads=1, repeats=2, quick=True, clock="cpu")
    assert b.clock == "cpu" and (b.ratios()["ratio"] > 0).all()
    assert main(["bench", "--quick", "--cpu-time", "--threads", "2", "--layers", "softmax"]) == 2
    assert "--threads 1" in capsys.readouterr().err
    path = tmp_path / "b.json"
    assert main(["bench", "--quick", "--cpu-time", "--layers", "softmax",
                 "--json", str(path)]) == 0
    doc = json.loads(path.read_text())
    assert doc["clock"] == "cpu" and doc["threads"] == 1
