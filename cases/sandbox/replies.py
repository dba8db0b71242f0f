"""What the grader accepts from its worker, checked in one place before anything reads it.

Every message the worker sends (ready, hint, hello, note, reply) is held to the fields the
worker's own code writes: each field's type, range and finiteness are checked, each text is
made clean, printable UTF-8 (`layercheck.cases.text`), and unknown fields are refused. Student
code can write to the worker's pipe, so a message that breaks these rules is `Malformed`:
that case's error, the student's, never a failure of the grader.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from layercheck.cases import net_cases, optim_cases
from layercheck.cases.adapters import Run
from layercheck.cases.case import Case
from layercheck.cases.net_cases import NetCase, NetRun
from layercheck.cases.optim_cases import OptimCase, OptimRun
from layercheck.cases.sandbox.wire import StandIn
from layercheck.cases.text import MAX_TEXT, clean_name, clean_text

KINDS = ("ready", "hint", "hello", "note", "reply", "unit_reply")
MAX_OUTPUTS = 16  # outputs in one reply (a layer has at most 8)
MAX_HINT = 500  # characters of one refused-attempt hint (or of one loading note)
MAX_NOTES = 20  # a notebook's skipped statements reported in the hello
MAX_ERROR_TYPE = 100
MAX_MARKS = 64  # an optimizer's rebound or returned marks in one reply
MAX_UNIT_OUTPUTS = 512  # a network's or optimizer's values in one reply (named by its case)
SLACK_SECONDS = 1.0  # a case's own time may exceed its limit by this much (clocks differ)
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_INT64 = 1 << 63
_FIELDS = {
    "ready": ({"type"}, set()),
    "hint": ({"type", "text"}, set()),
    "hello": ({"type", "ok"}, {"has", "error", "traceback", "notes"}),
    "note": ({"type", "phase", "outputs"}, set()),
    "reply": ({"type", "outputs", "error_phase", "error", "error_type", "traceback",
               "missing", "modified", "seconds"}, set()),
    "unit_reply": ({"type", "outputs", "error", "error_type", "error_phase", "error_step",
                    "traceback", "missing", "rebound", "returned", "notes", "grads_dict",
                    "seconds"}, set()),
}


class Malformed(Exception):
    """A worker message that breaks the protocol: the student's error for that case."""


@dataclass
class Hello:
    """The worker's answer to importing the submission."""

    ok: bool
    has: set[str] = field(default_factory=set)
    error: str | None = None
    traceback: str | None = None
    notes: list[str] = field(default_factory=list)  # a notebook's statements skipped


def kind(msg: dict) -> str:
    """The message's type, once its fields are exactly those that type has."""
    t = msg.get("type")
    if type(t) is not str or t not in _FIELDS:
        raise Malformed(f"a message of unknown type {_shown(t)}")
    required, optional = _FIELDS[t]
    keys = set(msg)
    if not required <= keys or not keys <= required | optional:
        odd = sorted(clean_name(k, 40) for k in (required - keys) | (keys - required - optional))
        raise Malformed(f"a {t} message with the wrong fields ({', '.join(odd[:4])})")
    return t


def hint(msg: dict) -> str:
    """A refused attempt the worker's audit hook reported (a policy hint, never proof)."""
    return _text(msg, "text", MAX_HINT, required=True) or ""


def hello(msg: dict, layer_names: Collection[str]) -> Hello:
    """The import's outcome; `has`: which of `layer_names` the loaded module defines."""
    ok = msg["ok"]
    if type(ok) is not bool:
        raise Malformed("hello: 'ok' is not true or false")
    has = msg.get("has", [])
    if (type(has) is not list or len(has) > len(layer_names)
            or any(type(n) is not str or n not in layer_names for n in has)):
        raise Malformed("hello: 'has' is not a list of the layer names asked for")
    if ok and ("error" in msg or "traceback" in msg):
        raise Malformed("hello: an error with a successful import")
    notes = msg.get("notes", [])
    if (type(notes) is not list or len(notes) > MAX_NOTES
            or any(type(n) is not str for n in notes)):
        raise Malformed(f"hello: 'notes' is not a list of at most {MAX_NOTES} texts")
    return Hello(ok, set(has), _text(msg, "error", MAX_TEXT), _text(msg, "traceback", MAX_TEXT),
                 [clean_text(n, MAX_HINT) for n in notes])


def note(msg: dict) -> dict[str, Any]:
    """Forward's outputs, sent as backward starts (judged if backward then hangs)."""
    if not _is(msg["phase"], "backward"):
        raise Malformed("note: 'phase' is not 'backward'")
    return outputs(msg["outputs"])


def reply(msg: dict, case: Case, inputs: Collection[str], limit: float) -> Run:
    """A case's reply as a `Run`. Nothing in it decides a status: 'missing' included (the
    parent decided the layer exists, so a claim that it is missing is an error here)."""
    phase = msg["error_phase"]
    if not (phase is None or _is(phase, "forward", "backward")):
        raise Malformed("reply: 'error_phase' is not forward, backward or null")
    if type(msg["missing"]) is not bool:
        raise Malformed("reply: 'missing' is not true or false")
    modified = msg["modified"]
    if (type(modified) is not list or len(modified) > len(inputs)
            or any(type(m) is not str or m not in inputs for m in modified)):
        raise Malformed("reply: 'modified' is not a list of the case's input names")
    run = Run(outputs=outputs(msg["outputs"]), error_phase=phase,
              error=_text(msg, "error", MAX_TEXT),
              error_type=_text(msg, "error_type", MAX_ERROR_TYPE, name=True),
              traceback=_text(msg, "traceback", MAX_TEXT),
              modified=list(dict.fromkeys(modified)),
              seconds=_seconds(msg["seconds"], limit + SLACK_SECONDS))
    if msg["missing"]:
        run.error_type, run.error_phase = "NameError", "forward"
        run.error = (f"NameError: the {case.layer} layer was not found in the module when "
                     f"the case ran")
    if run.error is not None and run.error_type is None:
        run.error_type = "Error"
    return run


def unit_reply(msg: dict, case: OptimCase | NetCase, limit: float) -> OptimRun | NetRun:
    """A network's or optimizer's reply as its run (`OptimRun` or `NetRun`): every output
    one the case can have, every mark a (step, name) of the case, every text cleaned."""
    optim = isinstance(case, OptimCase)
    names = (optim_cases.output_names(case) if optim
             else net_cases.output_names(case))  # type: ignore[arg-type]
    values = msg["outputs"]
    if type(values) is not dict or len(values) > min(len(names), MAX_UNIT_OUTPUTS):
        raise Malformed("unit_reply: 'outputs' is not a mapping of the case's values")
    for k in values:
        if type(k) is not str or k not in names:
            raise Malformed(f"unit_reply: an output named {_shown(k)}")
    got = {k: _value(k, x) for k, x in values.items()}
    for key in ("missing", "grads_dict"):
        if type(msg[key]) is not bool:
            raise Malformed(f"unit_reply: '{key}' is not true or false")
    step = msg["error_step"]
    steps = case.steps if optim else 0  # type: ignore[union-attr]
    if not (step is None or (type(step) is int and 1 <= step <= steps)):
        raise Malformed("unit_reply: 'error_step' is not a step of the case")
    phase = msg["error_phase"]
    if not (phase is None or (not optim and _is(phase, *net_cases.ERROR_PHASES))):
        raise Malformed("unit_reply: 'error_phase' is not one of the network's phases")
    params = set(case.param_names()) if not optim else set(  # type: ignore[union-attr]
        optim_cases.param_shapes(case.P))  # type: ignore[union-attr]
    marks = {}
    for key in ("rebound", "returned"):
        v = msg[key]
        if type(v) is not list or len(v) > MAX_MARKS or (v and not optim) or any(
                type(m) is not list or len(m) != 2 or type(m[0]) is not int
                or not 1 <= m[0] <= steps or type(m[1]) is not str
                or (key == "rebound" and m[1] not in params) for m in v):
            raise Malformed(f"unit_reply: '{key}' is not a list of (step, name) of the case")
        marks[key] = [(m[0], clean_name(m[1], MAX_ERROR_TYPE)) for m in v]
    notes = msg["notes"]
    if type(notes) is not list or len(notes) > MAX_NOTES or any(type(n) is not str
                                                                for n in notes):
        raise Malformed(f"unit_reply: 'notes' is not a list of at most {MAX_NOTES} texts")
    error = _text(msg, "error", MAX_TEXT)
    error_type = _text(msg, "error_type", MAX_ERROR_TYPE, name=True)
    if error is not None and error_type is None:
        error_type = "Error"
    tb = _text(msg, "traceback", MAX_TEXT)
    seconds = _seconds(msg["seconds"], limit + SLACK_SECONDS)
    run: OptimRun | NetRun
    if optim:
        run = optim_cases.run_from_outputs(case, got)  # type: ignore[arg-type]
        run.rebound, run.returned = marks["rebound"], marks["returned"]
        run.error_step = step if error is not None else None
    else:
        run = net_cases.run_from_outputs(case, got, msg["grads_dict"])  # type: ignore[arg-type]
        run.error_phase = phase if error is not None else None
        run.notes = [clean_text(n, MAX_HINT) for n in notes]
    run.error, run.error_type, run.traceback, run.seconds = error, error_type, tb, seconds
    if msg["missing"]:  # the parent decided the name exists: a claim otherwise is an error
        run.error_type = "NameError"
        run.error = f"NameError: {case.layer} was not found in the module when the case ran"
        if isinstance(run, OptimRun):
            run.error_step = 1
        else:
            run.error_phase = "construct"
    return run


def outputs(v: Any) -> dict[str, Any]:
    """A reply's outputs: named as outputs are, each value of a type the worker sends."""
    if type(v) is not dict or len(v) > MAX_OUTPUTS:
        raise Malformed(f"'outputs' is not a mapping of at most {MAX_OUTPUTS} results")
    for k in v:
        if not _OUTPUT_NAME.fullmatch(k):
            raise Malformed(f"an output named {_shown(k)}")
    return {k: _value(k, x) for k, x in v.items()}


def _value(name: str, v: Any) -> Any:
    """One result as the worker's `wire.output` sends it: None, a bool, an int within int64,
    a float (NaN and infinities are results too), an array or scalar of an allowed dtype
    (the wire format checked those), or a stand-in for any other object."""
    if v is None or type(v) in (bool, float, np.ndarray) or isinstance(v, np.generic | StandIn):
        return v
    if type(v) is int:
        if -_INT64 <= v < _INT64:
            return v
        raise Malformed(f"output {name!r} is an integer outside int64")
    raise Malformed(f"output {name!r} is a {type(v).__name__}, which the worker never sends")


def _seconds(v: Any, most: float) -> float | None:
    """A case's own time: null, or a finite number of seconds from 0 to `most`."""
    if v is None:
        return None
    if type(v) not in (int, float) or (type(v) is float and not math.isfinite(v)):
        raise Malformed(f"reply: 'seconds' is not a finite number ({_shown(v)})")
    if not 0 <= v <= most:  # exact for ints of any size: no float conversion before this
        raise Malformed(f"reply: 'seconds' is outside 0 to {most:g}")
    return float(v)


def _text(msg: dict, key: str, limit: int, *, name: bool = False,
          required: bool = False) -> str | None:
    """A text field, cleaned (`clean_text`); absent or null is None unless `required`."""
    v = msg.get(key)
    if v is None and not required:
        return None
    if type(v) is not str:
        raise Malformed(f"'{key}' is not text")
    return clean_name(v, limit) if name else clean_text(v, limit)


def _is(v: Any, *words: str) -> bool:
    """Whether `v` is one of `words` (compared only once it is known to be a str: an array
    compares elementwise)."""
    return type(v) is str and v in words


def _shown(v: Any) -> str:
    """A value as a message may show it: its type, or a short clean text."""
    return repr(clean_name(v, 40)) if type(v) is str else f"of type {type(v).__name__}"
