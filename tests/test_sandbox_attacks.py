"""The attack catalogue (tests/attacks/): each attack runs in a real isolated worker on one
tiny ReLU case, and each test says how it is held: which layer stopped it (mount namespace,
pid namespace, seccomp, rlimits/cgroup, the wire format, the parent's own decisions)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.adapters import Run
from layercheck.cases.case import Case
from layercheck.cases.sandbox import isolation
from layercheck.cases.sandbox.handle import Worker
from layercheck.cases.sandbox.wire import MAX_TEXT
from layercheck.reports.grading.checker import inputs_and_truth, judge

ATTACKS = Path(__file__).parent / "attacks"
RELU = Case("relu", N=1, C=1, H=2, W=2)
PROJECT = Path(__file__).resolve().parent.parent
SIGSYS = "SIGSYS"
KERNEL_KILL = "the kernel killed the worker for a forbidden system call"

pytestmark = pytest.mark.skipif(
    isolation.probe() is not None,
    reason=f"this machine cannot isolate student code: {isolation.probe()}")


@dataclass
class Outcome:
    """What one attack achieved, as the grader saw it."""

    hello: dict
    runs: list[Run] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    restarts: int = 0
    canary: Path | None = None
    sub: Path | None = None
    grader: Path | None = None

    @property
    def findings(self) -> dict:
        """The attack's own report of what it reached ('FINDINGS {...}' in its error)."""
        texts = [self.hello.get("error") or ""] + [r.error or "" for r in self.runs]
        for t in texts:
            m = re.search(r"FINDINGS (\{.*\})", t)
            if m:
                return json.loads(m.group(1))
        raise AssertionError(f"the attack reported no findings: {texts}")

    def sigsys(self) -> bool:
        """Whether the kernel killed the worker (seccomp) and the parent recorded it."""
        return (any(r.error and SIGSYS in r.error for r in self.runs)
                and any(KERNEL_KILL in v for v in self.violations))


def _site() -> str:
    import numpy
    return str(Path(numpy.__file__).resolve().parent.parent)


def run_attack(tmp_path: Path, name: str, cases: int = 1, timeout: float = 5.0,
               folder: bool = False, memory: int | None = None,
               replace: dict[str, str] | None = None) -> Outcome:
    """Run tests/attacks/NAME as a submission (the file and its own _tools module, with a
    classmate's file beside it) through a Worker on `cases` ReLU cases; `replace`: text
    of the attack's source to replace first (a variant of the attack)."""
    sub, grader = tmp_path / "sub", tmp_path / "grader"
    sub.mkdir()
    grader.mkdir()
    canary = grader / "canary.txt"
    canary.write_text("original")
    (sub / "classmate.py").write_text("CLASSMATE = 'their own work'\n")
    host = {"project": str(PROJECT), "site": _site(), "home": os.path.expanduser("~"),
            "grader_pid": os.getpid(), "classmate": str(sub / "classmate.py"),
            "canary": str(canary), "own_file": str(sub / name), "grader_dir": str(grader),
            "root": str(sub)}
    src = (ATTACKS / name).read_text().replace("HOST = {}", f"HOST = {json.dumps(host)}")
    for old, new in (replace or {}).items():
        assert old in src, f"{name} has no {old!r} to replace"
        src = src.replace(old, new)
    (sub / name).write_text(src)
    shutil.copy(ATTACKS / "_tools.py", sub / "_tools.py")
    kw = {"memory": memory} if memory else {}
    w = Worker(sub / name, sub, "class", timeout=timeout, import_timeout=20, names={"Relu"},
               whole_root=folder, **kw)
    try:
        hello = w.start()
        runs = [w.run(RELU, inputs_and_truth(RELU, "class")[0]) for _ in range(cases)
                ] if hello.get("ok") else []
    finally:
        w.close()
    return Outcome(hello, runs, list(w.violations), list(w.forbidden), w.restarts, canary,
                   sub, grader)


def statuses(run: Run) -> set[str]:
    """The statuses the parent gives the case's outputs for this run."""
    arrays, truth = inputs_and_truth(RELU, "class")
    return {r.status for r in judge(RELU, arrays, truth, run)}


def host_untouched(o: Outcome) -> None:
    assert o.canary is not None and o.canary.read_text() == "original"
    assert sorted(p.name for p in o.grader.iterdir()) == ["canary.txt"]
    assert not (o.sub / "pwned.txt").exists()


# ---------------------------------------------------------------- cheat

def test_importing_impl_fails_because_impl_is_not_mounted(tmp_path) -> None:
    o = run_attack(tmp_path, "cheat_import_impl.py")
    assert not o.hello["ok"] and "No module named 'layercheck.impl'" in o.hello["error"]
    assert any("the grader's own 'layercheck.impl'" in v for v in o.violations)  # a policy entry


def test_reference_is_out_of_reach_even_with_the_project_on_sys_path(tmp_path) -> None:
    f = run_attack(tmp_path, "cheat_import_reference.py").findings
    assert "No module named 'layercheck.reference'" in f["import"]
    assert "No module named 'impl'" in f["syspath"]


def test_torch_under_a_computed_name_fails_to_import_and_is_a_violation(tmp_path) -> None:
    o = run_attack(tmp_path, "cheat_torch_hidden.py")
    (run,) = o.runs
    assert "No module named 'torch'" in run.error
    assert o.forbidden == ["torch"]  # the checker turns this into a no-framework entry
    assert statuses(run) == {"error"}


def test_torch_stays_unreachable_through_the_graders_site_packages(tmp_path) -> None:
    f = run_attack(tmp_path, "cheat_torch_site.py").findings
    assert "No module named 'torch'" in f["torch"]


def test_the_graders_memory_and_processes_are_invisible(tmp_path) -> None:
    f = run_attack(tmp_path, "cheat_parent_memory.py").findings
    assert os.getpid() not in f["visible_pids"] and len(f["visible_pids"]) <= 3
    assert f[f"mem_{os.getpid()}"] == "FileNotFoundError"
    assert f["grader_cmdline"] == "FileNotFoundError"


def test_a_classmates_file_beside_the_submission_is_not_mounted(tmp_path) -> None:
    f = run_attack(tmp_path, "cheat_classmate.py").findings
    assert f["classmate"] == "FileNotFoundError"


def test_raising_missing_is_an_error_never_the_missing_status(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "cheat_missing.py").runs
    assert not run.missing and "not found in the module" in run.error
    assert statuses(run) == {"error"}


def test_a_forged_hello_cannot_make_a_failing_import_pass(tmp_path) -> None:
    o = run_attack(tmp_path, "cheat_forged_hello.py", cases=2)
    assert all(statuses(r) == {"error"} for r in o.runs)
    assert any("out of turn" in v for v in o.violations)


def test_a_forged_reply_cannot_claim_a_status(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "cheat_forged_reply.py").runs
    assert statuses(run) == {"error"}  # its 'pass' and 'missing' fields mean nothing here


def test_clearing_lists_and_patching_the_sender_cannot_take_a_refusal_back(tmp_path) -> None:
    o = run_attack(tmp_path, "cheat_clear_violations.py")
    assert any("os.system" in v for v in o.violations)  # sent before anything was cleared
    assert statuses(o.runs[0]) == {"pass"}  # an honest ReLU is still graded as one


def test_shipped_native_code_is_not_mounted_and_is_reported(tmp_path) -> None:
    sub = tmp_path / "folder"
    sub.mkdir()
    (sub / "fastrelu.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF" + b"\0" * 60)
    (sub / "fastrelu_data.bin").write_bytes(b"\x7fELF")  # native, whatever its name
    shutil.copy(ATTACKS / "cheat_native_so.py", sub / "layers.py")
    w = Worker(sub / "layers.py", sub, "class", whole_root=True)
    try:
        hello = w.start()
    finally:
        w.close()
    assert "No module named 'fastrelu'" in hello["error"]
    shipped = " ".join(v for v in w.violations if "native code" in v)
    assert "fastrelu.cpython-311" in shipped and "fastrelu_data.bin" in shipped


# ---------------------------------------------------------------- escape

def test_a_switched_off_audit_hook_meets_seccomp(tmp_path) -> None:
    o = run_attack(tmp_path, "escape_hook_off_system.py")
    assert o.sigsys()
    host_untouched(o)


def test_fork_exec_without_an_audit_event_is_killed_by_seccomp(tmp_path) -> None:
    o = run_attack(tmp_path, "escape_fork_exec.py")
    assert o.sigsys()
    host_untouched(o)


@pytest.mark.parametrize("name", ["escape_ptrace.py", "escape_unshare.py",
                                  "escape_tiocsti.py", "escape_pidfd.py",
                                  "escape_fork_bomb.py", "write_mknod.py",
                                  "escape_x32.py"])
def test_forbidden_system_calls_kill_the_worker(tmp_path, name: str) -> None:
    o = run_attack(tmp_path, name)
    assert o.sigsys(), o.runs[0].error if o.runs else o.hello


def test_kill_everyone_reaches_only_the_sandbox(tmp_path) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        o = run_attack(tmp_path, "escape_kill_everyone.py")
        assert bystander.poll() is None  # a process of the grader's user, untouched
    finally:
        bystander.kill()
        bystander.wait()
    assert statuses(o.runs[0]) == {"pass"}


# ---------------------------------------------------------------- write

@pytest.mark.parametrize("name", ["write_readline.py", "write_sqlite.py"])
def test_writers_without_audit_events_cannot_reach_host_files(tmp_path, name: str) -> None:
    o = run_attack(tmp_path, name)
    f = o.findings
    assert f["canary"] != "written" and f["own_file"] != "written"
    host_untouched(o)
    assert "HOST" in (o.sub / name).read_text()  # its own file is read-only


def test_dir_fd_writes_cannot_reach_the_grader_or_the_runtime(tmp_path) -> None:
    o = run_attack(tmp_path, "write_dir_fd.py")
    f = o.findings
    assert f["hook_off"] is True
    assert f["grader_dir"] == "FileNotFoundError" and f["root"] != "written"
    assert {f[p] for p in ("/pwned", "/usr/pwned", "/lc/worker/pwned")} == {"OSError"}
    host_untouched(o)


def test_filling_the_disk_stops_at_the_file_size_limit(tmp_path) -> None:
    f = run_attack(tmp_path, "write_big_file.py").findings
    assert f["big.bin"] == "OSError"  # EFBIG: RLIMIT_FSIZE, which holds for root
    assert f["/tmp/big.bin"] in ("OSError", "PermissionError")


# ---------------------------------------------------------------- exfiltration

def test_there_is_no_network_only_unix_sockets(tmp_path) -> None:
    f = run_attack(tmp_path, "exfil_network.py").findings
    assert all(v == 1 for k, v in f.items() if k != "unix")  # EPERM from seccomp
    assert f["unix"] == "FileNotFoundError"


def test_the_graders_files_home_and_secrets_do_not_exist_inside(tmp_path) -> None:
    f = run_attack(tmp_path, "exfil_files.py").findings
    listing = f.pop("home_listing")
    home = Path(os.path.expanduser("~"))
    runtime = Path(os.path.realpath(sys.executable))  # e.g. ~/.pyenv/... holds the runtime
    if runtime.is_relative_to(home):  # the home exists only as the way to the runtime
        assert f.pop(str(home)) and listing == [runtime.relative_to(home).parts[0]]
    assert not any(f.values()), f


def test_the_graders_environment_is_not_passed_on(tmp_path, monkeypatch) -> None:
    token = os.urandom(8).hex()
    monkeypatch.setenv("LAYERCHECK_TEST_SECRET", token)
    f = run_attack(tmp_path, "exfil_environ.py").findings
    assert token not in json.dumps(f) and "LAYERCHECK_TEST_SECRET" not in json.dumps(f)


def test_a_4mb_exception_text_is_cut_to_a_few_kb(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "exfil_long_error.py").runs
    assert run.error.startswith("ValueError: AAA") and len(run.error) <= MAX_TEXT + 100


# ---------------------------------------------------------------- grader crash

@pytest.mark.parametrize("name, words", [
    ("crash_huge_header.py", "announces 18446744073709551615 bytes"),
    ("crash_deep_nesting.py", "malformed frame"),
    ("crash_forged_array.py", "outside the frame"),
    ("crash_garbage.py", "bad frame magic"),
])
def test_malformed_replies_are_that_cases_error(tmp_path, name: str, words: str) -> None:
    o = run_attack(tmp_path, name, cases=2)
    assert [r.error_type for r in o.runs] == ["WorkerCrash", "WorkerCrash"]
    assert words in o.runs[0].error and o.restarts == 1
    assert any(words in v for v in o.violations)


# ---------------------------------------------------------------- denial of service

def test_memory_is_limited(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "dos_memory.py", memory=1 << 30).runs
    assert "MemoryError" in run.error or "memory" in run.error


def test_threads_are_limited(tmp_path) -> None:
    f = run_attack(tmp_path, "dos_threads.py").findings
    assert f["started"] < isolation.PIDS_LIMIT and "can't start new thread" in f["error"]


def test_restarts_leave_no_temporary_folder_or_cgroup(tmp_path, monkeypatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))  # where the grader's folders go

    def cgroups() -> list[Path]:
        return [p for d in ("memory", "pids")
                for p in Path("/sys/fs/cgroup", d).rglob(f"layercheck-{os.getpid()}-*")]

    o = run_attack(tmp_path, "dos_crash_loop.py", cases=4)
    assert o.restarts == 3 and all("exited with status 1" in r.error for r in o.runs)
    assert list(temp.iterdir()) == [] and cgroups() == []


def test_a_worker_that_stops_reading_cannot_block_the_grader(tmp_path) -> None:
    big = {"x": np.zeros((1, 1, 512, 512)), "dout": np.zeros((1, 1, 512, 512))}  # 4 MB
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ATTACKS / "dos_stop_reading.py", sub / "student.py")
    shutil.copy(ATTACKS / "_tools.py", sub / "_tools.py")
    with Worker(sub / "student.py", sub, "class", timeout=1.0) as w:
        assert w.start()["ok"]
        first = w.run(RELU, big)  # its request fills the pipe: written with a deadline
    assert first.error_type == "Timeout"


def test_a_worker_ignoring_signals_is_killed_at_the_timeout(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "dos_ignore_signals.py", timeout=1.0).runs
    assert run.error_type == "Timeout"


# ---------------------------------------------------------------- a batch

def test_a_batch_with_a_crashing_and_a_cheating_submission_writes_four_reports(
        tmp_path) -> None:
    subs, out = tmp_path / "subs", tmp_path / "json"
    subs.mkdir()
    students = Path(__file__).parent / "students"
    shutil.copy(students / "good_loops.py", subs / "honest_a.py")
    shutil.copy(students / "good_windows.py", subs / "honest_b.py")
    shutil.copy(ATTACKS / "cheat_import_impl.py", subs / "cheat.py")
    (subs / "crash.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
                                   "class Relu:\n    pass\n")
    r = subprocess.run([sys.executable, "-m", "layercheck.reports.cli", "check", "--each",
                        str(subs), "--layers", "relu", "--jobs", "2", "--json", str(out),
                        "--quiet", "--no-shrink"], capture_output=True, text=True, timeout=300,
                       cwd=PROJECT)
    assert r.returncode == 2, r.stdout + r.stderr  # the worst: not loaded
    reports = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(reports) == ["cheat", "crash", "honest_a", "honest_b"]
    for name in ("honest_a", "honest_b"):
        s = reports[name]["summary"]
        assert s["pass"] == s["total"] > 0 and reports[name]["policy"] == []
    assert not reports["cheat"]["summary"]["total"]
    assert any("'layercheck.impl'" in p["detail"] for p in reports["cheat"]["policy"])
    assert "died from SIGSEGV" in reports["crash"]["load_error"]
    assert [reports[n]["exit_code"] for n in sorted(reports)] == [2, 2, 0, 0]
    assert all(d["isolation"].startswith("bubblewrap") for d in reports.values())
