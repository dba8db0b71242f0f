"""The bounded wire format between the grader and its worker: no pickle.

A frame is a 16-byte header (magic, JSON length, binary length), a JSON object, then raw
array bytes. Arrays appear in the JSON as {"$nd": [dtype, shape, offset]}; scalars as
{"$sc": [dtype, offset]}; any other object as {"$obj": [module, qualname]}. The reader
checks both lengths against hard caps before reading a byte of the body, and rebuilds only
exact `numpy.ndarray`s of a validated dtype and shape, each from bytes of its own: entries
that overlap are refused, and what the entries decode to is counted against a cap before
anything is copied. Runs on both sides (numpy only).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from layercheck.cases.case import Case
from layercheck.cases.text import MAX_NAME, MAX_TEXT, clean_name, clean_text
from layercheck.cases.text import printable as printable  # the writers import it from here

MAGIC = b"LCw1"
HEADER = struct.Struct("<4sIQ")
MAX_JSON = 1 << 20
MAX_BINARY = 256 << 20
# What one message from the worker may cost the grader once decoded (its arrays and scalars),
# and so the most array bytes its frame may announce: honest replies hold a few KiB.
MAX_REPLY = 64 << 20
MAX_ARRAY = MAX_REPLY // 8  # one result larger than this travels as its size only
MAX_NDIM = 32
MAX_STAND_INS = 64  # objects that are not arrays, in one frame (each becomes a class)
MAX_DIM = 1 << 31  # any one axis, zero-sized arrays included
_KINDS = "biuf"
_DTYPES = frozenset(np.dtype(t).newbyteorder(o).str
                    for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                              "uint32", "uint64", "float16", "float32", "float64",
                              "longdouble")
                    for o in "<>")


class WireError(Exception):
    """A frame that is malformed, oversized or not what was expected."""


class OverCap(WireError):
    """A frame whose arrays would decode to more bytes than the reader allows."""


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
    """A result as it travels: arrays and scalars as themselves (an array larger than
    `MAX_ARRAY` as its shape and size only), any other object as its type's name (not its
    contents)."""
    if v is None or type(v) in (bool, int, float) or (
            isinstance(v, np.generic) and v.dtype.str in _DTYPES):
        return v
    if _array_ok(v):
        return v if v.nbytes <= MAX_ARRAY else _too_large(v)
    if type(v) is np.ndarray:
        return {"$obj": ["numpy", f"ndarray[dtype={str(v.dtype)[:40]}]"]}
    t = type(v)
    return {"$obj": [str(getattr(t, "__module__", "?"))[:200],
                     str(getattr(t, "__qualname__", "?"))[:200]]}


def _too_large(v: np.ndarray) -> dict:
    return {"$obj": ["numpy", f"ndarray[shape {v.shape[:8]}, {v.nbytes} bytes: "
                              f"too large to send]"]}


def outputs(values: dict, budget: int = MAX_REPLY // 2) -> dict:
    """Results as they travel (`output`), their arrays together within `budget` bytes: once
    it is spent, further arrays travel as their size only."""
    out = {}
    for k, v in values.items():
        v = output(v)
        if type(v) is np.ndarray:
            if v.nbytes > budget:
                v = _too_large(v)
            else:
                budget -= v.nbytes
        out[k] = v
    return out


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
        raise WireError(f"dtype {clean_name(str(s), 40)!r} is not allowed")
    return np.dtype(s)


@dataclass
class _Spend:
    """What a frame's entries decode to so far, against the cap. Entries take the frame's
    bytes in the order they appear in its JSON (as `encode` lays them out), each after the
    last: an entry that aliases or overlaps one before it is refused before it is copied."""

    cap: int
    bytes: int = 0
    end: int = 0
    stand_ins: int = 0

    def take(self, at: Any, n: int, size: int) -> int:
        """The offset of an entry of `n` bytes, counted before anything is allocated."""
        if type(at) is not int or at < 0 or at + n > size:
            raise WireError("array bytes outside the frame")
        if n and at < self.end:
            raise WireError("array entries overlap (each must have bytes of its own, in order)")
        if self.bytes + n > self.cap:
            raise OverCap(f"the frame's arrays decode to more than {self.cap} bytes")
        self.bytes += n
        self.end = max(self.end, at + n)
        return at


def _shape(v: Any) -> list[int]:
    if (type(v) is not list or len(v) > MAX_NDIM
            or any(type(s) is not int or not 0 <= s <= MAX_DIM for s in v)):
        raise WireError("malformed array shape")
    return v


def _untag(v: Any, binary: bytes, spend: _Spend) -> Any:
    if type(v) is list:
        return [_untag(x, binary, spend) for x in v]
    if type(v) is not dict:
        return v
    if len(v) == 1 and "$nd" in v:
        d = v["$nd"]
        if type(d) is not list or len(d) != 3:
            raise WireError("malformed array entry")
        dtype, shape = _dtype(d[0]), _shape(d[1])
        count = 1
        for s in shape:
            count *= s
        at = spend.take(d[2], count * dtype.itemsize, len(binary))
        if count == 0:
            return np.empty(shape, dtype)
        return np.frombuffer(binary, dtype, count, at).reshape(shape).copy()
    if len(v) == 1 and "$sc" in v:
        d = v["$sc"]
        if type(d) is not list or len(d) != 2:
            raise WireError("malformed scalar entry")
        dtype = _dtype(d[0])
        at = spend.take(d[1], dtype.itemsize, len(binary))
        return np.frombuffer(binary, dtype, 1, at)[0]
    if len(v) == 1 and "$obj" in v:
        d = v["$obj"]
        if type(d) is not list or len(d) != 2:
            raise WireError("malformed object entry")
        spend.stand_ins += 1
        if spend.stand_ins > MAX_STAND_INS:
            raise WireError(f"more than {MAX_STAND_INS} objects that are not arrays")
        return _stand_in(clean_name(str(d[0]), MAX_NAME), clean_name(str(d[1]), MAX_NAME))
    if len(v) == 1 and "$float" in v and v["$float"] in ("nan", "inf", "-inf"):
        return float(v["$float"])
    return {k: _untag(x, binary, spend) for k, x in v.items()}


def decode_counted(body: bytes, binary: bytes, max_decoded: int = MAX_BINARY
                   ) -> tuple[dict, int]:
    """The message of a frame's body and the bytes its arrays and scalars take decoded,
    at most `max_decoded` (counted before each copy); `WireError` for anything malformed,
    over the cap, or with entries that share bytes."""
    try:
        msg = json.loads(body.decode("utf-8"))
        if type(msg) is not dict:
            raise WireError("a frame must hold a JSON object")
        spend = _Spend(max_decoded)
        return _untag(msg, binary, spend), spend.bytes
    except WireError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError,
            UnicodeDecodeError) as e:
        raise WireError(f"malformed frame ({type(e).__name__})") from e


def decode(body: bytes, binary: bytes, max_decoded: int = MAX_BINARY) -> dict:
    """The message of a frame's body (`decode_counted`, without the count)."""
    return decode_counted(body, binary, max_decoded)[0]


def text(v: Any, limit: int = MAX_TEXT) -> str | None:
    """A string field of a worker message as clean, printable text of at most `limit`
    characters (`layercheck.cases.text.clean_text`); None if not a string."""
    return clean_text(v, limit) if type(v) is str else None


# ---------------------------------------------------------------- cases

def case_to_dict(case: Any) -> dict:
    """A `Case` as plain fields (tuples become lists on the wire)."""
    return {f.name: getattr(case, f.name) for f in fields(case)}


def case_from_dict(d: dict) -> Any:
    """The `Case` back from `case_to_dict` (lists back to tuples)."""
    return Case(**{k: tuple(v) if type(v) is list else v for k, v in d.items()})
