"""The bounded wire format between the grader and its worker: no pickle.

A frame is a 16-byte header (magic, JSON length, binary length), a JSON object, then raw
array bytes. Arrays appear in the JSON as {"$nd": [dtype, shape, offset]}; scalars as
{"$sc": [dtype, offset]}; any other object as {"$obj": [module, qualname]}. The reader
checks both lengths against hard caps before reading a byte of the body, and rebuilds only
exact `numpy.ndarray`s of a validated dtype and shape. Runs on both sides (numpy only).
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import fields
from typing import Any

import numpy as np

MAGIC = b"LCw1"
HEADER = struct.Struct("<4sIQ")
MAX_JSON = 1 << 20
MAX_BINARY = 256 << 20
MAX_NDIM = 32
MAX_TEXT = 4000  # characters of any one string kept from a worker message
# C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional overrides
# and isolates: what a student's text could use to rewrite a terminal (clear the screen, move
# the cursor, set the title, print a forged verdict over the real one) or reorder a line.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_KINDS = "biuf"
_DTYPES = frozenset(np.dtype(t).newbyteorder(o).str
                    for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                              "uint32", "uint64", "float16", "float32", "float64",
                              "longdouble")
                    for o in "<>")


class WireError(Exception):
    """A frame that is malformed, oversized or not what was expected."""


# ---------------------------------------------------------------- encoding

def _array_ok(v: Any) -> bool:
    return type(v) is np.ndarray and v.dtype.kind in _KINDS and v.dtype.str in _DTYPES


def _tag(v: Any, blobs: list[bytes], at: list[int]) -> Any:
    """v as JSON-able data; arrays appended to `blobs` (`at[0]`: the running offset)."""
    if v is None or type(v) in (bool, int, str):
        return v
    if type(v) is float:
        return v if v == v and abs(v) != float("inf") else {"$float": repr(v)}
    if type(v) in (list, tuple):
        return [_tag(x, blobs, at) for x in v]
    if type(v) is dict:
        return {str(k): _tag(x, blobs, at) for k, x in v.items()}
    if _array_ok(v):
        raw = np.ascontiguousarray(v).tobytes()
        blobs.append(raw)
        at[0] += len(raw)
        return {"$nd": [v.dtype.str, [int(n) for n in v.shape], at[0] - len(raw)]}
    if isinstance(v, np.generic) and type(v).__module__ == "numpy" and v.dtype.str in _DTYPES:
        raw = v.tobytes()
        blobs.append(raw)
        at[0] += len(raw)
        return {"$sc": [v.dtype.str, at[0] - len(raw)]}
    if type(v) is np.ndarray:  # a dtype arrays may not have (complex, object, ...)
        return {"$obj": ["numpy", f"ndarray[dtype={str(v.dtype)[:40]}]"]}
    t = type(v)
    return {"$obj": [str(getattr(t, "__module__", "?"))[:200],
                     str(getattr(t, "__qualname__", "?"))[:200]]}


def output(v: Any) -> Any:
    """A result as it travels: arrays and scalars as themselves (an array too large for a
    frame as its size only), any other object as its type's name (not its contents)."""
    if v is None or type(v) in (bool, int, float) or (
            isinstance(v, np.generic) and v.dtype.str in _DTYPES):
        return v
    if _array_ok(v):
        if v.nbytes > MAX_BINARY // 8:
            return {"$obj": ["numpy", f"ndarray[{v.nbytes} bytes: too large to send]"]}
        return v
    if type(v) is np.ndarray:
        return {"$obj": ["numpy", f"ndarray[dtype={str(v.dtype)[:40]}]"]}
    t = type(v)
    return {"$obj": [str(getattr(t, "__module__", "?"))[:200],
                     str(getattr(t, "__qualname__", "?"))[:200]]}


def encode(msg: dict) -> bytes:
    """One frame for a message (a dict of builtins and arrays)."""
    blobs: list[bytes] = []
    body = json.dumps(_tag(msg, blobs, [0]), separators=(",", ":")).encode()
    binary = b"".join(blobs)
    return HEADER.pack(MAGIC, len(body), len(binary)) + body + binary


# ---------------------------------------------------------------- decoding

def read_header(head: bytes, max_binary: int = MAX_BINARY) -> tuple[int, int]:
    """(JSON length, binary length) of a frame header, both checked against the caps."""
    if len(head) != HEADER.size:
        raise WireError("truncated frame header")
    magic, n_json, n_bin = HEADER.unpack(head)
    if magic != MAGIC:
        raise WireError(f"bad frame magic {magic!r}")
    if n_json > MAX_JSON:
        raise WireError(f"frame announces {n_json} bytes of JSON (at most {MAX_JSON})")
    if n_bin > max_binary:
        raise WireError(f"frame announces {n_bin} bytes of arrays (at most {max_binary})")
    return n_json, n_bin


class StandIn:
    """Stands for an object that is not an array: only its type's name travels."""

    def __init__(self, module: str, qualname: str) -> None:
        self.module, self.qualname = module, qualname


def _stand_in(module: str, qualname: str) -> object:
    """An object whose type reports the student's type name (for 'not an ndarray')."""
    name = qualname.rsplit(".", 1)[-1] or "?"
    cls = type(name, (StandIn,), {"__module__": module, "__qualname__": qualname})
    return cls(module, qualname)


def _dtype(s: Any) -> np.dtype:
    if not isinstance(s, str) or s not in _DTYPES:
        raise WireError(f"dtype {str(s)[:40]!r} is not allowed")
    return np.dtype(s)


def _offset(v: Any, n: int, binary: bytes) -> int:
    if type(v) is not int or v < 0 or v + n > len(binary):
        raise WireError("array bytes outside the frame")
    return v


def _untag(v: Any, binary: bytes) -> Any:
    if type(v) is list:
        return [_untag(x, binary) for x in v]
    if type(v) is not dict:
        return v
    if len(v) == 1 and "$nd" in v:
        d = v["$nd"]
        if type(d) is not list or len(d) != 3:
            raise WireError("malformed array entry")
        dtype, shape = _dtype(d[0]), d[1]
        if (type(shape) is not list or len(shape) > MAX_NDIM
                or any(type(s) is not int or s < 0 for s in shape)):
            raise WireError("malformed array shape")
        count = 1
        for s in shape:
            count *= s
        n = count * dtype.itemsize
        at = _offset(d[2], n, binary)
        if count == 0:
            return np.empty(shape, dtype)
        return np.frombuffer(binary, dtype, count, at).reshape(shape).copy()
    if len(v) == 1 and "$sc" in v:
        d = v["$sc"]
        if type(d) is not list or len(d) != 2:
            raise WireError("malformed scalar entry")
        dtype = _dtype(d[0])
        at = _offset(d[1], dtype.itemsize, binary)
        return np.frombuffer(binary, dtype, 1, at)[0]
    if len(v) == 1 and "$obj" in v:
        d = v["$obj"]
        if type(d) is not list or len(d) != 2:
            raise WireError("malformed object entry")
        return _stand_in(str(d[0])[:200], str(d[1])[:200])
    if len(v) == 1 and "$float" in v and v["$float"] in ("nan", "inf", "-inf"):
        return float(v["$float"])
    return {k: _untag(x, binary) for k, x in v.items()}


def decode(body: bytes, binary: bytes) -> dict:
    """The message of a frame's body; `WireError` for anything malformed."""
    try:
        msg = json.loads(body.decode("utf-8"))
        if type(msg) is not dict:
            raise WireError("a frame must hold a JSON object")
        return _untag(msg, binary)
    except WireError:
        raise
    except (ValueError, TypeError, RecursionError, MemoryError, UnicodeDecodeError) as e:
        raise WireError(f"malformed frame ({type(e).__name__})") from e


def printable(v: str | None) -> str | None:
    """The text without control characters (C0 but tab and newline, DEL, C1, bidi
    overrides): escape sequences lose their ESC and show as plain characters."""
    return None if v is None else _CONTROLS.sub("", v)


def text(v: Any, limit: int = MAX_TEXT) -> str | None:
    """A string field of a worker message, cut to `limit` characters, control characters
    removed (`printable`); None if not a string."""
    if type(v) is not str:
        return None
    v = printable(v)  # linear; a frame's JSON is at most MAX_JSON bytes
    return v if len(v) <= limit else v[:limit] + f"... [{len(v) - limit} more characters cut]"


# ---------------------------------------------------------------- cases

def case_to_dict(case: Any) -> dict:
    """A `Case` as plain fields (tuples become lists on the wire)."""
    return {f.name: getattr(case, f.name) for f in fields(case)}


def case_from_dict(d: dict) -> Any:
    """The `Case` back from `case_to_dict` (lists back to tuples)."""
    from layercheck.cases.case import Case

    return Case(**{k: tuple(v) if type(v) is list else v for k, v in d.items()})
