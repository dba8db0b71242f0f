"""The worker's guard: student code cannot write outside its temporary folder, start
processes or load native code; each attempt is refused and reported as a policy violation."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from cases.student.checker import check_submission

STUDENTS = Path(__file__).parent / "students"


@pytest.fixture
def canary() -> Path:
    """A file and a folder the student will try to damage (they match its glob)."""
    token = secrets.token_hex(8)
    f = Path(f"/tmp/layercheck-canary-{token}")
    d = Path(f"/tmp/layercheck-canary-{token}-dir")
    f.write_text(f"original {token}")
    d.mkdir()
    (d / "keep").write_text(token)
    yield f
    f.unlink(missing_ok=True)
    (d / "keep").unlink(missing_ok=True)
    d.rmdir()


def test_writing_files_outside_the_worker_folder_is_refused_and_reported(canary) -> None:
    before = canary.read_text()
    r = check_submission(STUDENTS / "bad_write_files.py", layers=("relu",), do_shrink=False)
    assert canary.read_text() == before
    assert (Path(f"{canary}-dir") / "keep").exists()
    assert not Path(f"{canary}.moved").exists()
    rules = {p["rule"] for p in r.policy}
    details = " ".join(p["detail"] for p in r.policy if p["rule"] == "sandbox")
    assert rules == {"sandbox"} and str(canary) in details
    assert "for writing" in details and "os.remove" in details
    assert r.exit_code() == 1
    assert r.results and all(x.passed for x in r.results)  # writing in its own folder is fine


def test_shell_commands_are_refused_and_fail_the_case_that_ran_them() -> None:
    r = check_submission(STUDENTS / "bad_system.py", layers=("relu", "affine"),
                         do_shrink=False)
    details = " ".join(p["detail"] for p in r.policy if p["rule"] == "sandbox")
    assert "subprocess.Popen" in details and "os.system" in details
    relu = [x for x in r.results if x.layer == "relu"]
    assert relu and all(x.status == "error" and "PermissionError: sandbox: os.system"
                        in x.diagnosis for x in relu)
    assert all(x.passed for x in r.results if x.layer == "affine")
    assert not list(Path("/tmp").glob("layercheck-canary-from-*"))
    assert r.exit_code() == 1


@pytest.mark.parametrize("source, event", [
    ("import os\nos.remove(os.path.abspath(__file__))\n", "os.remove"),
    ("import ctypes\nctypes.CDLL('libc.so.6').getpid()\n", "ctypes.dlopen"),
    ("import socket\nsocket.create_connection(('127.0.0.1', 9))\n", "socket.connect"),
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
