"""`layercheck check --scheduler`: submissions checked on a Dask cluster (a LocalCluster of 2
worker processes here, reached by its tcp:// address as a remote one would be)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from layercheck.reports.cli import main

distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed")

STUDENTS = Path(__file__).parent / "students"


def each(folder: Path) -> list[str]:
    """Arguments that grade each entry of `folder` as one submission (`--each FOLDER` where
    the command has it, else the folder itself, as before --each existed)."""
    from layercheck.reports.cli import build_parser

    check = build_parser("check")._subparsers._group_actions[0].choices["check"]
    return ["--each", str(folder)] if "--each" in check._option_string_actions \
        else [str(folder)]


@pytest.mark.slow
def test_submissions_on_a_two_worker_dask_cluster_come_back_as_reports(tmp_path,
                                                                       capsys) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(STUDENTS / "good_loops.py", subs / "good_loops.py")
    shutil.copy(STUDENTS / "good_functional.py", subs / "good_functional.py")
    repo = subs / "carol"  # a folder submission: files travel to the worker as a zip
    (repo / "common").mkdir(parents=True)
    (repo / "common" / "__init__.py").write_text("")
    source = (STUDENTS / "good_im2col.py").read_text()
    wrong = source.replace("out[self.mask] = 0\n        return out\n",
                           "out[self.mask] = 0\n        return out * 0.5\n")  # ReLU halved
    assert wrong != source
    (repo / "common" / "layers.py").write_text(wrong)
    out = tmp_path / "json"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster:
        assert len(cluster.workers) == 2
        rc = main(["check", *each(subs), "--scheduler", cluster.scheduler_address,
                   "--layers", "relu", "--json", str(out), "--quiet", "--no-shrink",
                   "--no-progress"])
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(reports) == ["carol", "good_functional", "good_loops"]
    assert reports["good_loops"]["exit_code"] == reports["good_functional"]["exit_code"] == 0
    assert reports["good_loops"]["summary"]["pass"] == reports["good_loops"]["summary"]["total"]
    assert reports["good_loops"]["implementation"] == str(subs / "good_loops.py"), \
        "the report must name the submission's own path, not the worker's temporary copy"
    assert "tmp" not in reports["carol"]["implementation"].replace(str(tmp_path), "")
    carol = reports["carol"]
    assert carol["exit_code"] == 1 and carol["summary"]["fail"] > 0, carol["summary"]
    assert rc == 1
    assert "3 submissions" in capsys.readouterr().out
