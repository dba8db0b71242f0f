"""The `Case` record: one layer configuration with a readable, stable id."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

LAYERS = ("conv", "pool", "avgpool", "affine", "relu", "softmax")
DTYPES = {"f32": "float32", "f64": "float64"}

Pair = tuple[int, int]


def _pair(name: str, v: Pair) -> str:
    return f"{name}{v[0]}" if v[0] == v[1] else f"{name}{v[0]}x{v[1]}"


@dataclass(frozen=True)
class Case:
    """One configuration of one layer; `id` names it and seeds its arrays.

    Shapes: x is (N, C, H, W) for every layer but softmax, whose logits are (N, C).
    F is the number of filters (conv) or output features (affine).
    """

    layer: str
    N: int = 2
    C: int = 3
    H: int = 5
    W: int = 5
    F: int = 1
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    pad: Pair | str = (0, 0)
    dtype: str = "f64"
    kind: str = "normal"
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None
    batched: bool = True

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got layer={self.layer!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got dtype={self.dtype!r}")

    @property
    def id(self) -> str:
        """Readable id, e.g. ``conv-N2-C3-H6W7-F4-k3-s2-p1-f64-normal``."""
        L = self.layer
        parts = [L, f"N{self.N}", f"C{self.C}"]
        if L != "softmax":
            parts.append(f"H{self.H}W{self.W}")
        if L in ("conv", "affine"):
            parts.append(f"F{self.F}")
        if L in ("conv", "pool", "avgpool"):
            parts.append(_pair("k", self.kernel))
            parts.append(_pair("s", self.stride))
            parts.append(f"p{self.pad}" if isinstance(self.pad, str) else _pair("p", self.pad))
            if self.dilation != (1, 1):
                parts.append(_pair("d", self.dilation))
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        if not self.bias:
            parts.append("nobias")
        if self.ceil_mode:
            parts.append("ceil")
        if L == "avgpool" and not self.count_include_pad:
            parts.append("nopadcount")
        if self.divisor_override is not None:
            parts.append(f"div{self.divisor_override}")
        if not self.batched:
            parts.append("unbatched")
        parts += [self.dtype, self.kind]
        return "-".join(parts)

    @property
    def seed(self) -> int:
        """Seed derived from the id: the same id gives the same arrays in any process."""
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "little")

    @property
    def np_dtype(self) -> str:
        return DTYPES[self.dtype]

    @property
    def x_shape(self) -> tuple[int, ...]:
        if self.layer == "softmax":
            return (self.N, self.C)
        shape = (self.N, self.C, self.H, self.W)
        return shape if self.batched else shape[1:]

    def params(self) -> dict[str, object]:
        """The case's parameters as flat columns (pairs as 'a x b' strings when uneven)."""
        out: dict[str, object] = {}
        for k, v in asdict(self).items():
            if isinstance(v, tuple):
                v = v[0] if v[0] == v[1] else f"{v[0]}x{v[1]}"
            out[k] = v
        return out

    def __str__(self) -> str:
        return self.id
