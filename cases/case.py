"""The `Case` record: one layer configuration with a readable, stable id."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from layercheck.cases import registry

# Tables other modules import, derived from the registry (cases/registry.py).
CORE_LAYERS = registry.family("core")
CURRICULA_LAYERS = registry.family("curricula")  # the notes' and CS231n's extras, LRN
LAYERS = registry.names()
NORM_LAYERS = registry.norms()
DROPOUT_LAYERS = registry.dropouts()
FLAT_LAYERS = registry.flat()  # x is (N, C)
WINDOWED = registry.windowed()
# eps where a case does not set it: the notes' BatchNormalization hard-codes 10e-7,
# CS231n's functions and PyTorch default to 1e-5.
DEFAULT_EPS = registry.default_eps()
DTYPES = {"f32": "float32", "f64": "float64"}

Pair = tuple[int, int]


def _pair(name: str, v: Pair) -> str:
    return f"{name}{v[0]}" if v[0] == v[1] else f"{name}{v[0]}x{v[1]}"


@dataclass(frozen=True)
class Case:
    """One configuration of one layer; `id` names it and seeds its arrays.

    Shapes: x is (N, C, H, W) for every layer but softmax, svm and layernorm, whose x is
    (N, C), and batchnorm with ndim=2. F is the number of filters (conv) or output features
    (affine); groups is also groupnorm's G.
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
    # curricula layers (shown in the id only when not at their default)
    ndim: int = 4  # batchnorm: 2 for (N, C) input, 4 for (N, C, H, W) flattened per sample
    train: bool = True  # batch norm and dropout: training (batch statistics, a mask) or test
    steps: int = 1  # batch norm training: forward passes whose running statistics are judged
    eps: float | None = None  # normalizations; None: the curriculum's DEFAULT_EPS
    rate: float = 0.5  # dropout: the notes' dropout_ratio (drop); invdropout: CS231n's p (keep)
    lrn: tuple[int, float, float, float] = (5, 1e-4, 0.75, 1.0)  # size, alpha, beta, k

    def __post_init__(self) -> None:
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got layer={self.layer!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got dtype={self.dtype!r}")
        if self.ndim not in (2, 4):
            raise ValueError(f"ndim must be 2 or 4, got ndim={self.ndim!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got steps={self.steps!r}")

    @property
    def id(self) -> str:
        """Readable id, e.g. ``conv-N2-C3-H6W7-F4-k3-s2-p1-f64-normal``."""
        L, unit = self.layer, self.unit
        parts = [L, f"N{self.N}", f"C{self.C}"]
        if len(self.x_shape) == 4 or (unit.family == "core" and not unit.flat):
            parts.append(f"H{self.H}W{self.W}")
        parts += self._curricula_parts()
        if unit.has_weights:
            parts.append(f"F{self.F}")
        if L in WINDOWED:
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

    def _curricula_parts(self) -> list[str]:
        """Id parts of the curricula layers' settings (groupnorm's G is the common g)."""
        L, parts = self.layer, []
        if L in DROPOUT_LAYERS:
            parts.append(f"r{self.rate:g}" if L == "dropout" else f"keep{self.rate:g}")
        if L == "lrn":
            n, a, b, k = self.lrn
            parts.append(f"n{n}-a{a:g}-b{b:g}-k{k:g}")
        if self.eps is not None:
            parts.append(f"eps{self.eps:g}")
        if not self.train:
            parts.append("test")
        if self.steps != 1:
            parts.append(f"steps{self.steps}")
        return parts

    @property
    def unit(self) -> registry.Unit:
        """The layer's record in the registry."""
        return registry.unit(self.layer)

    @property
    def eps_value(self) -> float:
        """The eps the case's normalization uses (its own, or the curriculum's default)."""
        return DEFAULT_EPS.get(self.layer, 1e-5) if self.eps is None else self.eps

    @property
    def seed(self) -> int:
        """Seed derived from the id: the same id gives the same arrays in any process."""
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "little")

    @property
    def np_dtype(self) -> str:
        return DTYPES[self.dtype]

    @property
    def x_shape(self) -> tuple[int, ...]:
        if self.layer in FLAT_LAYERS or (self.layer == "batchnorm" and self.ndim == 2):
            return (self.N, self.C)
        shape = (self.N, self.C, self.H, self.W)
        return shape if self.batched else shape[1:]

    def params(self) -> dict[str, object]:
        """The case's parameters as flat columns (pairs as 'a x b' strings when uneven)."""
        out: dict[str, object] = {}
        for k, v in asdict(self).items():
            if k == "lrn":
                v = "n{}-a{:g}-b{:g}-k{:g}".format(*v)
            elif isinstance(v, tuple):
                v = v[0] if v[0] == v[1] else f"{v[0]}x{v[1]}"
            out[k] = v
        return out

    def __str__(self) -> str:
        return self.id
