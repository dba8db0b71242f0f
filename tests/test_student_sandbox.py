"""The sandbox end to end: isolation is required (or every output says it is missing),
the audit hook's refusals are reported, a grader failure is exit code 3, and the wire
format rebuilds exactly what was sent and refuses anything else."""

from __future__ import annotations

import json
import secrets
import struct
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.sandbox import handle as worker_mod
from layercheck.cases.sandbox import isolation
from layercheck.cases.sandbox.wire import (
    HEADER,
    MAX_BINARY,
    MAX_JSON,
    StandIn,
    WireError,
    decode,
    encode,
    read_header,
)
from layercheck.reports.cli import main
from layercheck.reports.grading.checker import check_submission

STUDENTS = Path(__file__).parent / "students"
needs_isolation = pytest.mark.skipif(
    isolation.probe() is not None,
    reason=f"this machine cannot isolate student code: {isolation.probe()}")


def _roundtrip(msg: dict) -> dict:
    frame = encode(msg)
    n_json, n_bin = read_header(frame[:HEADER.size])
    body = frame[HEADER.size:]
    assert len(body) == n_json + n_bin
    return decode(body[:n_json], body[n_json:])


# ---------------------------------------------------------------- isolation, end to end

@needs_isolation
def test_a_correct_student_passes_isolated_and_the_report_says_how() -> None:
    r = check_submission(STUDENTS / "good_im2col.py", layers=("relu", "affine"),
                         do_shrink=False)
    assert r.exit_code() == 0 and r.results and all(x.passed for x in r.results)
    assert r.isolation.startswith("bubblewrap: user, pid, net, mount, ipc, uts namespaces")
    assert r.to_json()["isolation"] == r.isolation


@needs_isolation
def test_the_hosts_tmp_is_not_the_workers_tmp() -> None:
    canary = Path(f"/tmp/layercheck-canary-{secrets.token_hex(8)}")
    canary.write_text("original")
    try:
        r = check_submission(STUDENTS / "bad_write_files.py", layers=("relu",),
                             do_shrink=False)  # it globs /tmp/layercheck-canary-*
        assert canary.read_text() == "original" and not Path(f"{canary}.moved").exists()
        assert r.results and all(x.passed for x in r.results)
    finally:
        canary.unlink(missing_ok=True)


@needs_isolation
def test_shell_commands_are_refused_and_fail_the_case_that_ran_them() -> None:
    r = check_submission(STUDENTS / "bad_system.py", layers=("relu", "affine"),
                         do_shrink=False)
    details = " ".join(p["detail"] for p in r.policy if p["rule"] == "sandbox")
    assert "subprocess.Popen" in details and "os.system" in details
    relu = [x for x in r.results if x.layer == "relu"]
    assert relu and all(x.status == "error" and "PermissionError: sandbox: os.system"
                        in x.diagnosis for x in relu)
    assert all(x.passed for x in r.results if x.layer == "affine")
    assert r.exit_code() == 1


@needs_isolation
@pytest.mark.parametrize("source, event", [
    ("import os\nos.remove(os.path.abspath(__file__))\n", "os.remove"),
    ("import ctypes\nctypes.CDLL('libc.so.6').getpid()\n", "ctypes.dlopen"),
    ("import socket\nsocket.socket(socket.AF_UNIX).connect('/run/x')\n", "socket.connect"),
    ("import os, signal\nos.kill(os.getppid(), signal.SIGTERM)\n", "os.kill"),
    ("import builtins, os, posixpath\nbuiltins.any = builtins.repr = lambda *a: True\n"
     "posixpath.abspath = os.getcwd = lambda *a: '/'\nopen('/tmp/layercheck-patched', 'w')\n",
     "opening '/tmp/layercheck-patched' for writing"),
])
def test_an_uncaught_refusal_at_import_is_a_load_error_naming_it(tmp_path, source: str,
                                                                 event: str) -> None:
    f = tmp_path / "student.py"
    f.write_text(source + "class Relu:\n    pass\n")
    r = check_submission(f, layers=("relu",), do_shrink=False)
    assert f.exists() and not Path("/tmp/layercheck-patched").exists()
    assert r.exit_code() == 2 and f"PermissionError: sandbox: {event}" in r.load_error
    assert "(at student.py line " in r.load_error
    assert [p["rule"] for p in r.policy] == ["sandbox"]


@needs_isolation
def test_torch_fails_to_import_in_the_sandbox_and_is_mounted_only_when_allowed() -> None:
    r = check_submission(STUDENTS / "bad_torch.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 2 and "No module named 'torch'" in r.load_error
    assert [p["rule"] for p in r.policy] == ["no-framework"]
    r = check_submission(STUDENTS / "bad_torch.py", layers=("relu",), do_shrink=False,
                         allow_torch=True)
    assert r.exit_code() == 0 and not r.policy


def test_the_projects_own_fixture_students_see_no_more_of_the_grader_than_any_other() -> None:
    mounts = isolation.submission_mounts(STUDENTS / "good_extras.py", STUDENTS, False)
    args = mounts.args()
    outside = [a for a in args if a.startswith("/") and a != "/dev/null"
               and not Path(a).is_relative_to(STUDENTS.resolve())]
    assert not outside, f"a fixture student's mounts reach outside its folder: {outside}"
    assert isolation.sys_path(True, False) == [isolation.SANDBOX_WORKER, isolation.SANDBOX_SITE]


@needs_isolation
def test_a_folder_holding_the_grader_itself_is_not_mounted() -> None:
    root = Path(__file__).resolve().parent.parent
    with worker_mod.Worker(STUDENTS / "good_loops.py", root, "class", whole_root=True) as w:
        hello = w.start()
    assert not hello["ok"] and not hello.get("grader")  # the submission's problem: exit 2
    assert "holds the grader's own files" in hello["error"]


@needs_isolation
@pytest.mark.skipif(not isolation.Cgroup.available(),
                    reason="this machine lets the grader create no cgroup (rlimits only)")
def test_each_worker_runs_in_its_own_limited_cgroup_removed_at_close() -> None:
    with worker_mod.Worker(STUDENTS / "good_loops.py", STUDENTS, "class",
                           memory=3 << 30) as w:
        assert w.start()["ok"]
        assert w.proc.pid in w.cgroup.pids() and len(w.cgroup.pids()) >= 2  # bwrap, python
        limits = [Path(d, f).read_text().strip() for d in w.cgroup.dirs
                  for f in ("memory.limit_in_bytes", "memory.max", "pids.max")
                  if Path(d, f).exists()]
        dirs = list(w.cgroup.dirs)
    assert str(3 << 30) in limits and str(isolation.PIDS_LIMIT) in limits
    assert not any(Path(d).exists() for d in dirs)


def test_without_isolation_check_refuses_with_exit_code_3(monkeypatch, capsys) -> None:
    monkeypatch.setattr(isolation, "probe", lambda: "no user namespaces (simulated)")
    r = check_submission(STUDENTS / "good_loops.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 3 and not r.results
    assert "refusing to run untrusted code" in r.grader_error
    assert "--unsafe-no-isolation" in r.grader_error
    assert main(["check", str(STUDENTS / "good_loops.py"), "--layers", "relu"]) == 3
    assert "no user namespaces (simulated)" in capsys.readouterr().out


def test_unsafe_no_isolation_runs_and_every_output_says_so(monkeypatch, tmp_path,
                                                           capsys) -> None:
    monkeypatch.setattr(isolation, "probe", lambda: "no user namespaces (simulated)")
    out, md, gs = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "gs.json"
    rc = main(["check", str(STUDENTS / "good_loops.py"), "--layers", "relu", "--no-shrink",
               "--unsafe-no-isolation", "--json", str(out), "--md", str(md), "--gradescope",
               str(gs)])
    assert rc == 0
    assert "WARNING: NOT ISOLATED" in capsys.readouterr().out
    assert json.loads(out.read_text())["isolation"].startswith("NOT ISOLATED")
    assert "NOT ISOLATED" in md.read_text()
    assert "WARNING: NOT ISOLATED" in json.loads(gs.read_text())["output"]


@needs_isolation
def test_a_worker_that_fails_before_student_code_runs_is_a_grader_error(monkeypatch) -> None:
    monkeypatch.setattr(isolation, "SITE_PACKAGES", ())  # numpy missing in the sandbox
    r = check_submission(STUDENTS / "good_loops.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 3 and r.load_error is None
    assert "the worker did not start" in r.grader_error


def test_a_grader_failure_is_the_submissions_exit_code_3(monkeypatch) -> None:
    def broken(self: worker_mod.Worker) -> dict:
        raise RuntimeError("grader bug (simulated)")

    monkeypatch.setattr(worker_mod.Worker, "start", broken)
    r = check_submission(STUDENTS / "good_loops.py", layers=("relu",), do_shrink=False)
    assert r.exit_code() == 3 and "RuntimeError: grader bug (simulated)" in r.grader_error


@needs_isolation
def test_huge_results_are_judged_by_their_type_not_a_violation(tmp_path) -> None:
    f = tmp_path / "student.py"
    f.write_text("import numpy as np\nclass Relu:\n    def forward(self, x):\n"
                 "        return [0.0] * 10_000_000\n    def backward(self, dout):\n"
                 "        return np.zeros(6_000_000)\n")
    from layercheck.cases.case import Case
    from layercheck.reports.grading.checker import inputs_and_truth, judge

    case = Case("relu", N=1, C=1, H=2, W=2)
    arrays, truth = inputs_and_truth(case, "class")
    with worker_mod.Worker(f, tmp_path, "class", names={"Relu"}) as w:
        assert w.start()["ok"]
        run = w.run(case, arrays)
    assert run.error is None and w.violations == []
    assert type(run.outputs["out"]).__name__ == "list"
    assert "48000000 bytes: too large to send" in type(run.outputs["dx"]).__qualname__
    assert {r.status for r in judge(case, arrays, truth, run)} == {"fail"}


# ---------------------------------------------------------------- the wire format

@pytest.mark.parametrize("a", [
    np.arange(12, dtype=np.float32).reshape(3, 4), np.linspace(0, 1, 7),
    np.arange(6, dtype=">f8").reshape(2, 3), np.array(2.5), np.zeros((0, 3)),
    np.array([True, False]), np.arange(5, dtype=np.int64)[::2],
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
])
def test_arrays_come_back_exact(a: np.ndarray) -> None:
    b = _roundtrip({"outputs": {"out": a}})["outputs"]["out"]
    assert type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape
    assert b.tobytes() == np.ascontiguousarray(a).tobytes() and b.flags.writeable


def test_scalars_and_foreign_objects_keep_their_type_name() -> None:
    m = _roundtrip({"s": np.float32(1.5), "f": float("nan"), "l": [1, None, "x"],
                    "o": np.array([1 + 2j]), "p": Path("/")})
    assert type(m["s"]) is np.float32 and m["s"] == 1.5 and m["f"] != m["f"]
    assert m["l"] == [1, None, "x"]
    assert isinstance(m["o"], StandIn) and m["o"].qualname == "ndarray[dtype=complex128]"
    assert isinstance(m["p"], StandIn) and type(m["p"]).__name__ == "PosixPath"


@pytest.mark.parametrize("head, words", [
    (struct.pack("<4sIQ", b"LCw1", 10, 2**64 - 1), "bytes of arrays"),
    (struct.pack("<4sIQ", b"LCw1", MAX_JSON + 1, 0), "bytes of JSON"),
    (struct.pack("<4sIQ", b"\x80\x04\x95\x00", 0, 0), "bad frame magic"),
    (b"LCw1", "truncated"),
])
def test_headers_are_checked_before_any_body_is_read(head: bytes, words: str) -> None:
    with pytest.raises(WireError, match=words):
        read_header(head, MAX_BINARY)


@pytest.mark.parametrize("entry", [
    {"$nd": ["|O", [1], 0]}, {"$nd": ["<f8", [-1], 0]}, {"$nd": ["<f8", [4], 0]},
    {"$nd": ["<f8", [1] * 40, 0]}, {"$nd": ["<f8", [1], -8]}, {"$nd": "x"},
    {"$sc": ["<c16", 0]}, {"$obj": 3},
])
def test_forged_array_entries_are_refused(entry: dict) -> None:
    body = json.dumps({"out": entry}).encode()
    with pytest.raises(WireError):
        decode(body, b"\0" * 8)


def test_bodies_that_are_not_a_json_object_are_refused() -> None:
    for body in (b"[1]", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"1" * 5000):
        with pytest.raises(WireError):
            decode(body, b"")
