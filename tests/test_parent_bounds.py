"""The parent trusts nothing the worker says.

What a worker's messages may cost the grader is bounded by what they decode to (per message
and per worker), whatever their frames say; every field is checked before use, and a
malformed message is the student's error for that case, never a grader error (exit code 3);
every text that comes from a student is made clean, printable UTF-8 once, where it enters.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tracemalloc
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from layercheck.cases.case import Case
from layercheck.cases.sandbox import handle, isolation
from layercheck.cases.sandbox.replies import Malformed
from layercheck.cases.sandbox.replies import hello as check_hello
from layercheck.cases.sandbox.replies import hint as check_hint
from layercheck.cases.sandbox.replies import kind as check_kind
from layercheck.cases.sandbox.replies import note as check_note
from layercheck.cases.sandbox.replies import reply as check_reply
from layercheck.cases.sandbox.wire import (
    HEADER,
    MAX_ARRAY,
    MAX_REPLY,
    MAX_STAND_INS,
    StandIn,
    WireError,
    decode,
    decode_counted,
    encode,
    outputs,
    printable,
    read_header,
)
from layercheck.cases.text import clean_name, clean_text
from layercheck.reports.grading.checker import check_submission, inputs_and_truth, judge

try:
    from tests.test_sandbox_attacks import ATTACKS, RELU, run_attack, statuses
except ImportError:  # tests/ on sys.path instead of the repository root
    from test_sandbox_attacks import ATTACKS, RELU, run_attack, statuses

needs_isolation = pytest.mark.skipif(
    isolation.probe() is not None,
    reason=f"this machine cannot isolate student code: {isolation.probe()}")
MIB = 1 << 20
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _clean(s: str, newlines: bool = True) -> bool:
    """Whether `s` is valid UTF-8 text with no control or bidirectional character (but
    newline and tab where lines are allowed)."""
    s.encode("utf-8")  # raises on a lone surrogate
    allowed = "\n\t" if newlines else ""
    return not any((unicodedata.category(c) == "Cc" and c not in allowed) or c in BIDI
                   for c in s)


def _body(msg: dict) -> bytes:
    return json.dumps(msg).encode()


def _frame_parts(frame: bytes) -> tuple[bytes, bytes]:
    n_json, _ = read_header(frame[:HEADER.size])
    body = frame[HEADER.size:]
    return body[:n_json], body[n_json:]


def _sub(tmp_path: Path, attack: str, name: str = "student.py") -> Path:
    """A one-file submission holding the attack, with its _tools module beside it."""
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    shutil.copy(ATTACKS / attack, sub / name)
    shutil.copy(ATTACKS / "_tools.py", sub / "_tools.py")
    return sub / name


# ---------------------------------------------------------------- clean text, once

def test_lone_surrogates_and_invalid_bytes_become_replacement_characters() -> None:
    assert clean_text("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert clean_text(b"ok\xff\xfe!") == "ok\ufffd\ufffd!"
    assert clean_name("lay\udcffers.py") == "lay\ufffders.py"  # a surrogateescape'd byte


@pytest.mark.parametrize("c", ["\x1b", "\x07", "\x00", "\x08", "\x7f", "\x9b", "\x85", *BIDI])
def test_terminal_and_bidirectional_controls_are_removed(c: str) -> None:
    assert clean_text(f"a{c}b") == "ab"
    assert clean_name(f"a{c}b") == "ab"


def test_texts_keep_their_lines_and_names_become_one_line() -> None:
    assert clean_text("a\r\nb\rc\u2028d\u2029e\tf\ng") == "a\nb\nc\nd\ne\tf\ng"
    assert clean_name("a\r\nb\rc\u2028d\te\nf") == "a b c d e f"


def test_long_texts_are_cut_with_a_note_of_how_much() -> None:
    out = clean_text("x" * 5000 + "\ud800", 100)
    assert out == "x" * 100 + "... [4901 more characters cut]"
    assert clean_name("n" * 300) == "n" * 200 + "... [100 more characters cut]"


def test_any_text_comes_out_clean_and_cleaning_twice_changes_nothing() -> None:
    rng = random.Random(0)
    points = [*range(0x00, 0xA0), *range(0xD7F0, 0xE010), 0x61C, 0x200E, 0x2028, *range(
        0x2060, 0x2070), *range(0x202A, 0x202F), 0xFEFF, 0xFFFD, 0x10FFFF]
    for _ in range(300):
        s = "".join(chr(rng.choice(points)) for _ in range(rng.randrange(1, 60)))
        once = clean_text(s)
        assert _clean(once) and clean_text(once) == once, repr(s)
        assert _clean(clean_name(s), newlines=False), repr(s)


def test_the_writers_printable_also_replaces_surrogates() -> None:
    assert printable("x\ud800\x1b[2Jy") == "x\ufffd[2Jy"


# ---------------------------------------------------------------- decoded bytes, not frames

def test_aliased_entries_are_refused_before_they_are_copied() -> None:
    """The issue's example: a 4 MiB frame of 512 entries over the same bytes (2 GiB copied
    before); refused at the second entry, having copied at most one."""
    entry = {"$nd": ["<f8", [4 * MIB // 8], 0]}
    body, binary = _body({"outputs": {"out": [entry] * 512}}), bytes(4 * MIB)
    tracemalloc.start()
    try:
        with pytest.raises(WireError, match="overlap"):
            decode(body, binary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * MIB, peak


@pytest.mark.parametrize("entries", [
    [{"$nd": ["<f8", [2], 0]}, {"$nd": ["<f8", [2], 8]}],  # starts inside the first
    [{"$nd": ["<f8", [3], 0]}, {"$sc": ["<f4", 4]}],  # a scalar inside an array
    [{"$nd": ["<f8", [1], 16]}, {"$nd": ["<f8", [1], 0]}],  # disjoint, but out of order
    [{"$sc": ["<i8", 0]}, {"$sc": ["<i8", 0]}],  # the same scalar twice
])
def test_entries_that_share_bytes_are_refused(entries: list) -> None:
    with pytest.raises(WireError, match="overlap"):
        decode(_body({"o": entries}), bytes(24))


def test_zero_sized_entries_may_sit_anywhere_and_cost_nothing() -> None:
    msg, size = decode_counted(_body({"a": {"$nd": ["<f8", [2], 0]},
                                      "b": {"$nd": ["<f8", [0, 5], 0]}}), bytes(16))
    assert size == 16 and msg["b"].shape == (0, 5)


def test_what_entries_decode_to_is_counted_against_the_cap() -> None:
    body = _body({"a": {"$nd": ["<f8", [6], 0]}, "b": {"$nd": ["<f8", [6], 48]}})
    msg, size = decode_counted(body, bytes(100), 96)
    assert size == 96 and msg["b"].shape == (6,)
    with pytest.raises(WireError, match="decode to more than 95 bytes"):
        decode_counted(body, bytes(100), 95)


def test_objects_that_are_not_arrays_are_few_per_frame() -> None:
    """Each becomes a class of its own in the grader (a kilobyte or so): a frame of 50,000
    cost 140 MiB and 2.5 s; a reply has at most a few."""
    entry = {"$obj": ["m", "q"]}
    assert len(decode(_body({"o": [entry] * MAX_STAND_INS}), b"")["o"]) == MAX_STAND_INS
    with pytest.raises(WireError, match="objects that are not arrays"):
        decode(_body({"o": [entry] * 50_000}), b"")


@pytest.mark.parametrize("shape", [[-1], [10**30, 0], [0, (1 << 31) + 1], [1] * 33,
                                   [True], [1.0], "3"])
def test_shapes_out_of_range_are_refused(shape: object) -> None:
    with pytest.raises(WireError, match="shape"):
        decode(_body({"o": {"$nd": ["<f8", shape, 0]}}), bytes(8))


@pytest.mark.parametrize("dtype", ["<V1000000000", "<U999999999", "|S4294967295", "|O",
                                   "<c16", "<M8[s]", [["a", "<f8"]], 10**400, "<f8,<f8"])
def test_dtypes_outside_the_short_list_are_refused_huge_itemsizes_included(
        dtype: object) -> None:
    with pytest.raises(WireError, match="not allowed"):
        decode(_body({"o": {"$nd": [dtype, [1], 0]}}), bytes(8))


def test_a_frame_just_over_the_reply_cap_is_refused_at_its_header() -> None:
    read_header(HEADER.pack(b"LCw1", 10, MAX_REPLY), MAX_REPLY)
    with pytest.raises(WireError, match=f"at most {MAX_REPLY}"):
        read_header(HEADER.pack(b"LCw1", 10, MAX_REPLY + 8), MAX_REPLY)


def test_the_worker_keeps_an_honest_reply_within_the_cap() -> None:
    big = [np.zeros(7 * MIB // 8) for _ in range(5)]
    sent = outputs({"out": np.zeros(MAX_ARRAY // 8 + 1), **{f"d{i}": a for i, a in
                                                             enumerate(big)}})
    assert "too large to send" in sent["out"]["$obj"][1]
    kinds = [type(sent[f"d{i}"]) for i in range(5)]
    assert kinds == [np.ndarray] * 4 + [dict]  # 28 MiB sent; the fifth would pass 32 MiB
    _, binary = _frame_parts(encode({"outputs": sent}))
    assert len(binary) <= MAX_REPLY // 2


# ---------------------------------------------------------------- every field checked

CASE = Case("relu", N=1, C=1, H=2, W=2)
INPUTS = ("x", "dout")  # a ReLU's inputs
GOOD = {"type": "reply", "outputs": {"out": np.zeros(4), "loss": float("nan")},
        "error_phase": None, "error": None, "error_type": None, "traceback": None,
        "missing": False, "modified": ["dout"], "seconds": 0.25}


def test_a_well_formed_reply_is_taken_as_it_is() -> None:
    assert check_kind(GOOD) == "reply"
    run = check_reply(GOOD, CASE, INPUTS, 5.0)
    assert run.seconds == 0.25 and run.modified == ["dout"] and run.error is None
    assert set(run.outputs) == {"out", "loss"} and run.outputs["loss"] != run.outputs["loss"]


@pytest.mark.parametrize("field, value", [
    ("seconds", 10**400), ("seconds", float("nan")), ("seconds", float("inf")),
    ("seconds", -1e-3), ("seconds", 6.5), ("seconds", "0.1"), ("seconds", True),
    ("seconds", [0.1]), ("error_phase", "sideways"), ("error_phase", 1), ("missing", "yes"),
    ("missing", 0), ("modified", ["grader"]), ("modified", "x"), ("modified", [1]),
    ("modified", ["x"] * 3), ("outputs", []), ("outputs", {"out": [1.0, 2.0]}),
    ("outputs", {"out": "0.5"}), ("outputs", {"out": {"$nd": 1}}), ("outputs", {"x y": None}),
    ("outputs", {"o\ud800": None}), ("outputs", {"o" * 41: None}), ("outputs", {"out": 2**63}),
    ("outputs", {f"o{i}": None for i in range(17)}), ("error", 5), ("error_type", ["x"]),
    ("traceback", {}),
])
def test_a_reply_with_a_field_out_of_range_is_malformed(field: str, value: object) -> None:
    with pytest.raises(Malformed):
        check_reply({**GOOD, field: value}, CASE, INPUTS, 5.0)


@pytest.mark.parametrize("msg", [
    {**GOOD, "status": "pass"}, {k: v for k, v in GOOD.items() if k != "seconds"},
    {"type": "case"}, {"type": 5}, {"ok": True}, {"type": "hint", "text": "x", "more": 1},
])
def test_a_message_with_unknown_or_missing_fields_is_malformed(msg: dict) -> None:
    with pytest.raises(Malformed):
        check_kind(msg)


@pytest.mark.parametrize("msg", [
    {"type": "hello", "ok": "yes"}, {"type": "hello", "ok": True, "has": ["NotALayer"]},
    {"type": "hello", "ok": True, "has": "Relu"}, {"type": "hello", "ok": True, "has": [1]},
    {"type": "hello", "ok": True, "has": ["Relu\ud800"]},
    {"type": "hello", "ok": True, "error": "but it failed"},
    {"type": "hello", "ok": False, "error": ["not", "text"]},
])
def test_a_forged_hello_is_malformed(msg: dict) -> None:
    with pytest.raises(Malformed):
        check_hello(msg, {"Relu", "Affine"})


def test_a_note_must_be_the_start_of_backward() -> None:
    assert set(check_note({"type": "note", "phase": "backward", "outputs": {"out": None}}))
    with pytest.raises(Malformed):
        check_note({"type": "note", "phase": "forward", "outputs": {}})


ODD_VALUES = [None, True, 0, -1, 2**63, 10**400, 1.5, float("nan"), float("-inf"), "", "x",
              "\ud800", "forward", "backward", "Relu", [], [1], ["x"], ["Relu"], ["dout"],
              [np.zeros(2)], {}, {"out": None}, {"a": {"b": 1}}, np.zeros(3), np.zeros((2, 2)),
              np.array(1.0), np.float64(2.0), np.bool_(True), StandIn("m", "q")]


@pytest.mark.parametrize("msg", [
    GOOD, {"type": "note", "phase": "backward", "outputs": {}},
    {"type": "hello", "ok": False, "error": "e", "traceback": "t"},
    {"type": "hello", "ok": True, "has": ["Relu"]}, {"type": "hint", "text": "h"},
], ids=lambda m: m["type"])
def test_checking_any_value_in_any_field_either_passes_or_is_malformed(msg: dict) -> None:
    """Nothing a message holds makes the checks themselves raise (which would be the
    grader's error): every field, every kind of value the wire format can decode to."""
    check = {"reply": lambda m: check_reply(m, CASE, INPUTS, 5.0), "note": check_note,
             "hello": lambda m: check_hello(m, {"Relu", "Affine"}), "hint": check_hint}
    for field in msg:
        for value in ODD_VALUES:
            forged = {**msg, field: value}
            try:
                check[check_kind(forged)](forged)
            except Malformed:
                pass


def test_texts_in_a_reply_are_cleaned_and_cut() -> None:
    run = check_reply({**GOOD, "error": "E\ud800\x1b[2J" + "e" * 9000,
                       "error_type": "Bad\nName\u202e" + "N" * 200,
                       "traceback": "line\r\n\u2066x"}, CASE, INPUTS, 5.0)
    assert run.error.startswith("E\ufffd[2Jeee") and run.error.endswith("characters cut]")
    assert run.error_type.startswith("Bad NameNNN") and len(run.error_type) < 150
    assert run.traceback == "line\nx"


# ---------------------------------------------------------------- in the sandbox

@needs_isolation
def test_the_aliasing_example_costs_the_grader_a_few_mib_not_two_gib(tmp_path) -> None:
    """The grader's peak memory (VmHWM) on the issue's example, in a process of its own: it
    was 2 GiB above its start; the case is the student's error (a malformed message)."""
    f = _sub(tmp_path, "crash_aliased_arrays.py")
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from layercheck.cases.case import Case\n"
        "from layercheck.cases.inputs import make_inputs\n"
        "from layercheck.cases.sandbox.handle import Worker\n"
        "def hwm():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status')\n"
        "                if l.startswith('VmHWM')) << 10\n"
        "case, f = Case('relu', N=1, C=1, H=2, W=2), Path(sys.argv[1])\n"
        "start = hwm()\n"
        "with Worker(f, f.parent, 'class', names={'Relu'}) as w:\n"
        "    assert w.start()['ok']\n"
        "    run = w.run(case, make_inputs(case))\n"
        "print(json.dumps({'grew': hwm() - start, 'type': run.error_type,\n"
        "                  'error': run.error}))\n")
    r = subprocess.run([sys.executable, "-c", script, str(f)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["type"] == "WorkerCrash" and "overlap" in out["error"]
    assert out["grew"] < 64 * MIB, out["grew"] / MIB


@needs_isolation
def test_entries_that_share_bytes_are_that_cases_error_and_evidence(tmp_path) -> None:
    o = run_attack(tmp_path, "crash_overlapping_arrays.py", cases=2)
    assert [r.error_type for r in o.runs] == ["WorkerCrash", "WorkerCrash"]
    assert all("array entries overlap" in r.error for r in o.runs) and o.restarts == 1
    assert statuses(o.runs[0]) == {"error"}
    assert any("malformed message" in v and "overlap" in v for v in o.violations)


@needs_isolation
def test_a_reply_just_over_the_decoded_cap_is_refused_unread(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "crash_over_reply_cap.py").runs
    assert run.error_type == "WorkerCrash"
    assert f"announces {MAX_REPLY + 8} bytes of arrays (at most {MAX_REPLY})" in run.error


@needs_isolation
def test_one_workers_messages_together_are_capped_restarts_included(tmp_path,
                                                                    monkeypatch) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    (run,) = run_attack(tmp_path / "a", "dos_decoded_total.py").runs
    assert statuses(run) == {"pass"}  # forty 1 MiB notes: well formed and within the caps
    monkeypatch.setattr(handle, "MAX_WORKER_DECODED", 24 * MIB)
    o = run_attack(tmp_path / "b", "dos_decoded_total.py", cases=2)
    assert o.restarts == 1 and [r.error_type for r in o.runs] == ["WorkerCrash"] * 2
    assert all(f"more than {24 * MIB} bytes in all" in r.error for r in o.runs)


@needs_isolation
def test_a_forged_huge_seconds_is_the_students_error_not_a_grader_error(tmp_path) -> None:
    """The issue's example: "seconds": 10**400 made the grader raise OverflowError (exit
    code 3, a free retry). Now the case is an error, the student's, and the exit code 1."""
    r = check_submission(_sub(tmp_path, "forge_reply_numbers.py"), layers=("relu",),
                         do_shrink=False)
    assert r.grader_error is None and r.exit_code() == 1
    assert r.results and all(x.status == "error" for x in r.results)
    assert all("malformed reply" in x.diagnosis and "seconds" in x.diagnosis
               for x in r.results)
    assert any("malformed reply" in p["detail"] for p in r.policy)


@needs_isolation
@pytest.mark.parametrize("forged", [
    '{"seconds": float("nan")}', '{"seconds": -1}', '{"seconds": float("-inf")}',
    '{"outputs": {"out": 10**30}}', '{"error_phase": "sideways"}', '{"modified": ["y"]}',
    '{"status": "pass"}', '{"error": 12}',
])
def test_forged_reply_fields_are_that_cases_error(tmp_path, forged: str) -> None:
    o = run_attack(tmp_path, "forge_reply_numbers.py",
                   replace={'FORGED = {"seconds": 10**400}': f"FORGED = {forged}"})
    (run,) = o.runs
    assert run.error_type == "WorkerCrash" and "malformed" in run.error and "reply" in run.error
    assert statuses(run) == {"error"}
    assert any("malformed" in v and "reply" in v for v in o.violations)


@needs_isolation
def test_a_lone_surrogate_in_an_exception_is_cleaned_where_it_enters(tmp_path) -> None:
    """The issue's example: one character made every writer raise UnicodeEncodeError."""
    (run,) = run_attack(tmp_path, "text_surrogate_error.py").runs
    assert run.error.startswith("ValueError: bad \ufffd value [2J[H")
    assert _clean(run.error) and _clean(run.traceback) and "\r" not in run.error
    r = check_submission(_sub(tmp_path, "text_surrogate_error.py"), layers=("relu",),
                         do_shrink=False)
    assert r.grader_error is None and r.exit_code() == 1
    texts = json.dumps(r.to_json(), ensure_ascii=False)
    assert "\ufffd" in texts and all(_clean(c["diagnosis"]) for c in json.loads(texts)["cases"])


@needs_isolation
def test_names_and_tracebacks_a_student_controls_are_cleaned(tmp_path) -> None:
    (run,) = run_attack(tmp_path, "text_forged_names.py").runs
    out = run.outputs["out"]
    assert isinstance(out, StandIn) and _clean(type(out).__qualname__, newlines=False)
    assert _clean(out.module, newlines=False) and type(out).__qualname__.startswith("R\ufffd")
    assert run.error_type == "Odd]0;pwnedError X" and _clean(run.error)
    assert "x" * 10 in run.traceback and _clean(run.traceback)
    arrays, truth = inputs_and_truth(RELU, "class")
    assert all(_clean(x.diagnosis) for x in judge(RELU, arrays, truth, run))


@needs_isolation
def test_an_import_error_with_a_surrogate_is_a_clean_load_error(tmp_path) -> None:
    f = tmp_path / "student.py"
    f.write_text('raise ImportError("no \\ud800 here \\x1b[31m\\u202e")\nclass Relu:\n'
                 '    pass\n')
    r = check_submission(f, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 2 and r.grader_error is None
    assert "ImportError: no \ufffd here [31m" in r.load_error and _clean(r.load_error)


@needs_isolation
def test_a_forged_hello_is_a_load_error_never_a_grader_error(tmp_path) -> None:
    f = _sub(tmp_path, "cheat_forged_hello.py")
    src = f.read_text().replace('"has": ["Relu", "Convolution", "Affine"]',
                                '"has": ["Relu\\ud800", "os.system"]')
    f.write_text(src)
    with handle.Worker(f, f.parent, "class", names={"Relu"}) as w:
        hello = w.start()
    assert not hello["ok"] and not hello.get("grader")
    assert "malformed hello" in hello["error"] and _clean(hello["error"])


@needs_isolation
def test_shipped_file_names_with_invalid_bytes_are_cleaned_in_the_evidence(tmp_path) -> None:
    sub = tmp_path / "folder"
    sub.mkdir()
    (sub / "layers.py").write_text("class Relu:\n    pass\n")
    odd = os.fsdecode(b"fast\xff\x1b[2J\xe2\x80\xae.so")  # invalid byte, ESC, RLO
    (sub / odd).write_bytes(b"\x7fELF" + bytes(60))
    with handle.Worker(sub / "layers.py", sub, "class", whole_root=True) as w:
        assert w.start()["ok"]
    (shipped,) = [v for v in w.violations if "native code" in v]
    assert "fast\ufffd[2J.so" in shipped and _clean(shipped, newlines=False)



def test_a_load_error_quoting_a_file_name_with_controls_is_clean(tmp_path) -> None:
    f = tmp_path / "lay\x1b[2J\u202eers.py"
    f.write_text("x = 1\n")  # defines no layer: a load error that names the file
    r = check_submission(f, layers=("relu",), do_shrink=False)
    assert r.exit_code() == 2 and "lay[2Jers.py" in r.load_error and _clean(r.load_error)
