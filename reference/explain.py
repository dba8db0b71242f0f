"""Plain words for a student's wrong shape or exception, located in the student's own code."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from layercheck.cases import registry
from layercheck.cases.case import Case
from layercheck.cases.inputs import output_shape
from layercheck.reference.diagnose import shape_hint
from layercheck.reference.diagnosis import Diagnosis

OURS = Path(__file__).resolve().parents[2]  # layercheck's own source tree
FRAME = re.compile(r'\s*File "(.*)", line (\d+)')

# Names NumPy 2 removed, with what to write instead (NumPy's own message names some of these,
# not all; every one is named here so the hint reads the same way).
NUMPY2_REMOVED = {
    "product": "np.prod", "cumproduct": "np.cumprod", "sometrue": "np.any",
    "alltrue": "np.all", "asscalar": "a.item()", "alen": "len(a)", "float": "float or np.float64",
    "int": "int or np.int64", "bool": "bool or np.bool_", "object": "object or np.object_",
    "complex": "complex or np.complex128", "str": "str or np.str_", "long": "int",
    "unicode": "np.str_", "NaN": "np.nan", "Inf": "np.inf", "Infinity": "np.inf",
    "infty": "np.inf", "PINF": "np.inf", "NINF": "-np.inf", "PZERO": "0.0", "NZERO": "-0.0",
    "float_": "np.float64", "complex_": "np.complex128", "cfloat": "np.complex128",
    "longfloat": "np.longdouble", "string_": "np.bytes_", "unicode_": "np.str_",
    "round_": "np.round", "find_common_type": "np.result_type or np.promote_types",
    "msort": "np.sort(a, axis=0)", "in1d": "np.isin", "trapz": "np.trapezoid",
    "rank": "np.ndim", "mat": "np.asmatrix", "asfarray": "np.asarray(a, dtype=float)",
    "int0": "np.intp", "uint0": "np.uintp", "bool8": "np.bool_", "object0": "np.object_",
    "str0": "np.str_", "bytes0": "np.bytes_", "void0": "np.void", "issubsctype": "np.issubdtype",
    "cast": "np.asarray(a, dtype=dtype)", "safe_eval": "ast.literal_eval",
    "fastCopyAndTranspose": "a.T.copy()", "disp": "print",
}
# Python 2 leftovers: the error Python 3 raises for them, and the fix.
PY2_NAMES = {"xrange": "range", "unicode": "str", "long": "int", "basestring": "str",
             "raw_input": "input", "unichr": "chr", "reduce": "functools.reduce",
             "cmp": "(a > b) - (a < b)", "execfile": "exec(open(f).read())"}
PY2_METHODS = {"iteritems": ".items()", "itervalues": ".values()", "iterkeys": ".keys()",
               "has_key": "`key in d`"}
PY2_MODULES = {"cPickle": "pickle", "cStringIO": "io", "StringIO": "io", "urllib2":
               "urllib.request", "Queue": "queue", "ConfigParser": "configparser"}
FLOAT_INDEX = ("cannot be interpreted as an integer", "must be an integer",
               "slice indices must be integers", "only integers, slices",
               "expected a sequence of integers", "'float' object cannot be")


def frame(tb: str | None, root: str | Path | None) -> dict:
    """{'file', 'line', 'code'} of the last traceback frame in the student's own code, or {}.

    With `root`, only frames inside that folder count (never layercheck's or NumPy's); without
    it, the last frame outside layercheck and site-packages.
    """
    if not tb:
        return {}
    lines = tb.rstrip().splitlines()
    base = Path(root).resolve() if root is not None else None
    best: dict = {}
    for i, line in enumerate(lines):
        m = FRAME.match(line)
        if not m:
            continue
        path = _lexical(m.group(1))
        if not _own(path, base):
            continue
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        code = "" if not nxt or FRAME.match(lines[i + 1]) or nxt.startswith(
            ("Traceback", "During handling")) or set(nxt) <= set("^~ ") else nxt
        shown = path.name
        if base is not None and path.is_absolute():
            try:
                shown = str(path.relative_to(base))
            except ValueError:
                shown = path.name
        best = {"file": shown, "line": int(m.group(2)), "code": code}
    return best


def locate(tb: str | None, root: str | Path | None) -> str:
    """' at FILE line N: CODE' for the last traceback frame in the student's own code, or ''
    (`frame` in words)."""
    f = frame(tb, root)
    if not f:
        return ""
    return f" at {f['file']} line {f['line']}" + (f": {f['code']}" if f["code"] else "")


def _lexical(text: str) -> Path:
    """A path from a traceback's text, normalised as text only: the file system is never
    asked about a path a student can write into an exception (a link loop there would
    raise in the grader)."""
    return Path(os.path.normpath(text))


def _own(path: Path, base: Path | None) -> bool:
    """Whether a traceback frame's file is the student's (not ours, not a library's)."""
    text = str(path)
    if text.startswith("<") and text not in ("<string>",):
        return False
    if any(part in ("site-packages", "dist-packages", "lib-dynload") for part in path.parts):
        return False
    if base is not None:
        try:
            path.relative_to(base)
        except ValueError:
            return False
        return True
    try:
        path.relative_to(OURS)
    except ValueError:
        return "/lib/python" not in text
    return False


def drift_hint(error: str) -> str:
    """The fix for a NumPy-2 removal or a Python-2 leftover named in an error, or ''."""
    m = (re.search(r"module 'numpy' has no attribute '(\w+)'", error)
         or re.search(r"`np\.(\w+)` was removed in the NumPy 2", error))
    if m and m.group(1) in NUMPY2_REMOVED:
        return (f"np.{m.group(1)} was removed in NumPy 2: use {NUMPY2_REMOVED[m.group(1)]} "
                f"instead")
    m = re.search(r"name '(\w+)' is not defined", error)
    if m and m.group(1) in PY2_NAMES:
        return (f"{m.group(1)} is Python 2: in Python 3 use {PY2_NAMES[m.group(1)]}")
    m = re.search(r"has no attribute '(\w+)'", error)
    if m and m.group(1) in PY2_METHODS:
        return (f".{m.group(1)}() is Python 2: in Python 3 use {PY2_METHODS[m.group(1)]}")
    m = re.search(r"No module named '(\w+)'", error)
    if m and m.group(1) in PY2_MODULES:
        return f"{m.group(1)} is Python 2: in Python 3 import {PY2_MODULES[m.group(1)]}"
    if "Missing parentheses in call to 'print'" in error or (
            "invalid syntax" in error and "print " in error):
        return "a Python 2 print statement: write print(...) with parentheses"
    m = re.search(r"'(map|zip|filter|dict_keys|dict_values|dict_items)' object is not "
                  r"subscriptable", error)
    if m:
        return (f"in Python 3 {m.group(1).split('_')[0]}(...) is a view or iterator, not a "
                f"list: wrap it in list(...)")
    if any(s in error for s in FLOAT_INDEX):
        return ("a size or index computed with / is a float (Python 3's / always gives a "
                "float): use // or int(...) for output sizes and indices")
    return ""


def _spatial_words(case: Case, output: str, got: tuple[int, ...]) -> str:
    """Two shape slips of windowed layers: an empty crop where pad = 0, and H and W swapped."""
    if case.layer not in registry.windowed() or len(got) != 4 or not case.batched:
        return ""
    want = case.x_shape if output == "dx" else output_shape(case) if output == "out" else None
    if want is None or len(want) != 4 or tuple(got[:2]) != tuple(want[:2]):
        return ""
    pads = (0, 0) if isinstance(case.pad, str) else case.pad
    if output == "dx" and 0 in got[2:] and 0 in pads:
        return ("dx came out empty where pad = 0: the crop x[:, :, pad:-pad] is empty when "
                "pad = 0 (-0 is 0); crop with x[:, :, pad:pad + H, pad:pad + W]")
    if want[2] != want[3] and tuple(got[2:]) == (want[3], want[2]):
        return ("height and width are swapped: the output is (N, C, H_out, W_out), with "
                "H_out from H = x.shape[2] and the kernel height, W_out from W = x.shape[3]")
    return ""


def shape_words(case: Case, output: str, got: tuple[int, ...]) -> str:
    """What a wrong shape most likely means, from the shape that came back."""
    want_x = case.x_shape
    words = _spatial_words(case, output, got)
    if words:
        return words
    if output == "dx" and case.layer == "affine" and got == (case.N, math.prod(want_x[1:])):
        return (f"dx was left flat {got}: reshape it to the input's shape {want_x} "
                f"(dx.reshape(*x.shape))")
    if output == "dW" and case.layer == "affine" and got == (case.F, case.C * case.H * case.W):
        return "dW is transposed: for out = x @ W, dW = x.T @ dout, shaped like W (D, F)"
    if output == "db":
        if got and got[0] == case.N and case.N != case.F:
            return "db still has the batch axis: sum dout over the batch (and spatial) axes"
        if case.layer == "conv":
            return "db must have shape (F,): sum dout over axes (0, 2, 3)"
    if output == "dW" and case.layer == "conv" and len(got) == 2:
        return ("dW was left as a matrix: reshape it to W's shape (F, C, kh, kw) after "
                "transposing")
    return ""


def _hint(case: Case, phase: str | None, error: str) -> tuple[str, dict]:
    """(hint code, its facts) for an exception's message, or ('', {})."""
    drift = drift_hint(error)
    if drift:
        return "drift", {"drift": drift}
    if "NotImplementedError" in error or (re.search(r"returns? None|got NoneType", error) and (
            "must return" in error)):
        return "stub", {"what": "forward" if phase == "forward" else "backward"}
    m = re.search(r"'(\w+)' object has no attribute '(forward|backward)'", error)
    if m:
        return "no_method", {"cls": m.group(1), "method": m.group(2),
                             "arg": "x" if m.group(2) == "forward" else "dout"}
    m = re.search(r"'(\w+)' object has no attribute '(\w+)'", error)
    if m and phase == "backward" and m.group(1) != "NoneType":
        return "never_set", {"attr": m.group(2)}
    if "'NoneType' object has no attribute" in error or (
            "NoneType" in error and phase == "backward"):
        return "unstored", {}
    if "cannot reshape array" in error and phase == "forward":
        return "reshape_size", {"shape_hint": shape_hint(case, "out")}
    if case.layer == "softmax" and re.search(r"shapes \((\d+),\) \(\1,\d+\)|shapes "
                                             r"\((\d+),\d+\) \(\2,\)", error):
        return "labels_onehot_loss", {}
    if "operands could not be broadcast" in error:
        return "broadcast", {}
    if case.layer == "softmax" and ("arrays used as indices must be of integer" in error
                                    or "shape mismatch: indexing arrays" in error):
        return "labels_index_loss", {}
    if "zero-size array to reduction" in error:
        return "empty_window", {}
    return "", {}


def error_diagnosis(case: Case, phase: str | None, error: str, tb: str | None,
                    root: str | Path | None = None) -> Diagnosis:
    """The exception the implementation raised, as data: the phase, the error's first lines,
    the student's own file, line and code, and a hint code where the message names a known
    slip."""
    hint, facts = _hint(case, phase, error)
    where = frame(tb, root)
    if not hint and error.startswith("AssertionError") and re.search(
            r"%\s*(self\.)?stride", where.get("code", "")):
        hint = "assert_divisible"
    if drift_hint(error):  # NumPy's long removal notes: the first line and our fix suffice
        error = error.strip().splitlines()[0]
    return Diagnosis("raised", {"phase": phase, "error": error, **where, **facts,
                                "hint": hint or None})


def diagnose_error(case: Case, phase: str | None, error: str, tb: str | None,
                   root: str | Path | None = None) -> str:
    """`error_diagnosis` in words: the exception, at the student's own line, and the hint."""
    return error_diagnosis(case, phase, error, tb, root).words()


def located(diagnoses: tuple[Diagnosis, ...], case: Case, phase: str | None, error: str,
            tb: str | None, root: str | Path | None = None) -> tuple[Diagnosis, ...]:
    """The diagnoses with the bare 'raised' finding replaced by the located one (the
    student's file, line and code, and the hint); the others (an input modified in place)
    kept."""
    return (*(d for d in diagnoses if d.code != "raised"),
            error_diagnosis(case, phase, error, tb, root))


def with_shape_slip(diagnoses: tuple[Diagnosis, ...], case: Case, output: str,
                    got: tuple[int, ...]) -> tuple[Diagnosis, ...]:
    """The diagnoses with what the wrong shape most likely means (`shape_words`) added to
    the 'shape' finding's facts."""
    slip = shape_words(case, output, got)
    return tuple(Diagnosis(d.code, {**d.facts, "slip": slip}, d.pattern)
                 if d.code == "shape" and slip else d for d in diagnoses)
