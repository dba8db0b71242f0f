"""Grids of cases: small literal tuples expanded with itertools.product.

The quick grid (``make test``) takes the full product of the settings that change the
arithmetic (kernel, stride, pad, dtype, input kind) and cycles the sizes (N, C, F, H×W)
through it, so every value appears; the full grid (``make report``) is the whole product.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from layercheck.cases import registry
from layercheck.cases.case import LAYERS, Case
from layercheck.cases.inputs import KINDS
from layercheck.cases.pairwise import all_pairs

BATCH = (1, 2, 3)
CHANNELS = (1, 3)
FILTERS = (1, 4)
SIZES = ((7, 5), (6, 9), (8, 8), (4, 3))  # non-square, odd, and one too small for k=5
KERNELS = ((1, 1), (2, 2), (3, 3), (5, 5), (2, 3))
STRIDES = (1, 2, 3)
PADS = (0, 1, 2)
DTYPES = ("f32", "f64")
WINDOWED = registry.windowed()
GRIDS = ("quick", "full", "pairwise")


def _sq(v: int) -> tuple[int, int]:
    return (v, v)


def _windowed(layer: str, full: bool) -> Iterator[Case]:
    kinds = KINDS[layer]
    if full:
        for n, c, f, (h, w), k, s, p, dt, kind in itertools.product(
                BATCH, CHANNELS, FILTERS if layer == "conv" else (1,), SIZES, KERNELS,
                STRIDES, PADS, DTYPES, kinds):
            yield Case(layer, n, c, h, w, f, k, _sq(s), _sq(p), dt, kind)
        return
    if layer == "conv":  # sizes decide which conv configurations are rejected
        combos = itertools.product(KERNELS, STRIDES, PADS, DTYPES, kinds, SIZES)
    else:
        combos = ((*c, SIZES[i % 3]) for i, c in
                  enumerate(itertools.product(KERNELS, STRIDES, PADS, DTYPES, kinds)))
    for i, (k, s, p, dt, kind, (h, w)) in enumerate(combos):
        n, c, f = BATCH[i % 3], CHANNELS[(i // 3) % 2], FILTERS[(i // 2) % 2]
        extra = {}
        if layer == "avgpool" and p > 0 and i % 2:
            extra["count_include_pad"] = False
        yield Case(layer, n, c, h, w, f if layer == "conv" else 1, k, _sq(s), _sq(p), dt,
                   kind, **extra)


def _dense(layer: str, full: bool = False) -> Iterator[Case]:
    """The dense layers' cases (the same in the quick and the full grid)."""
    if layer == "softmax":
        for n, c, dt, kind in itertools.product((1, 2, 5), (2, 10), DTYPES, KINDS[layer]):
            yield Case("softmax", N=n, C=c, dtype=dt, kind=kind)
        return
    for n, c, (h, w), f, dt, kind in itertools.product(
            BATCH, CHANNELS, ((4, 5), (3, 3), (1, 1)), FILTERS, DTYPES, KINDS[layer]):
        if layer == "relu" and f != 1:
            continue
        yield Case(layer, n, c, h, w, f if layer == "affine" else 1, dtype=dt, kind=kind)


# The curricula's other layers (grid "curricula" in the registry). Quick: every setting that
# changes the arithmetic (mode, steps, groups, LRN constants, kind, dtype), sizes cycled;
# full: the sizes crossed too.
NORM_SIZES = ((4, 5), (3, 3), (1, 2))
BN_MODES = ((True, 1), (True, 3), (False, 1))  # (train, steps)
LRN_CONSTANTS = ((1e-4, 0.75, 1.0), (0.1, 0.75, 2.0), (1.0, 0.5, 1.0))
DROPOUT_RATES = (0.3, 0.5, 0.8)
# (N, C, H, W) of the layers with no setting of their own, cycled through dtype and kind
PLAIN_SHAPES = {"sigmoid": ((1, 1, 1, 1), (2, 3, 4, 5), (3, 2, 6, 9)),
                "svm": ((1, 2, 1, 1), (2, 10, 1, 1), (5, 3, 1, 1))}


def _cycle(full: bool, sizes: tuple, rows: list[tuple]) -> Iterator[tuple]:
    """Each row with every size (full) or with the sizes cycled through the rows (quick)."""
    for i, row in enumerate(rows):
        for size in (sizes if full else (sizes[i % len(sizes)],)):
            yield (*row, size)


def _curricula(layer: str, full: bool) -> Iterator[Case]:
    kinds = KINDS[layer]
    if layer in PLAIN_SHAPES:
        shapes = PLAIN_SHAPES[layer]
        for dt, kind, (n, c, h, w) in _cycle(full, shapes, list(itertools.product(
                DTYPES, kinds)) * (3 if full else 2)):
            yield Case(layer, n, c, h, w, dtype=dt, kind=kind)
    elif layer in registry.batch_norms():
        ndims = (2, 4) if layer == "batchnorm" else (4,)
        rows = list(itertools.product(ndims, BN_MODES, DTYPES, kinds))
        for i, (nd, (train, steps), dt, kind, (h, w)) in enumerate(
                _cycle(full, NORM_SIZES, rows)):
            yield Case(layer, N=(2, 5)[i % 2], C=(1, 3)[(i // 2) % 2], H=h, W=w, ndim=nd,
                       train=train, steps=steps, dtype=dt, kind=kind)
    elif layer == "layernorm":
        for dt, kind, (n, c) in _cycle(full, ((1, 4), (3, 7), (4, 1)),
                                       list(itertools.product(DTYPES, kinds)) * 2):
            yield Case(layer, N=n, C=c, dtype=dt, kind=kind)
    elif layer == "groupnorm":
        rows = list(itertools.product(((4, 1), (4, 2), (6, 3), (4, 4)), DTYPES, kinds))
        for i, ((c, g), dt, kind, (h, w)) in enumerate(_cycle(full, NORM_SIZES, rows)):
            yield Case(layer, N=(1, 2)[i % 2], C=c, H=h, W=w, groups=g, dtype=dt, kind=kind)
        yield Case(layer, C=4, groups=3)  # rejected: G must divide C
    elif layer in registry.dropouts():
        rates = DROPOUT_RATES if full else DROPOUT_RATES[::2]
        for train, rate, dt in itertools.product((True, False), rates, DTYPES):
            yield Case(layer, N=4, C=8, H=8, W=8, rate=rate, train=train, dtype=dt)
    elif layer == "lrn":
        rows = list(itertools.product((1, 2, 3, 5), LRN_CONSTANTS, DTYPES, kinds))
        if not full:
            rows = [r for i, r in enumerate(rows) if i % 3 == 0 or r[0] == 5]
        for i, (n, (a, b, k), dt, kind, (h, w)) in enumerate(
                _cycle(full, ((3, 4), (2, 2)), rows)):
            yield Case(layer, N=(1, 2)[i % 2], C=(3, 7)[(i // 2) % 2], H=h, W=w,
                       lrn=(n, a, b, k), dtype=dt, kind=kind)


# Pairwise grid: PyTorch's full Conv2d / MaxPool2d / AvgPool2d arguments, every pair of
# values together in at least one case. "dw" means depthwise: groups = C.
PAIRWISE = {
    "conv": {
        "N": (1, 2), "C": (2, 4), "F": (2, 4), "size": ((7, 6), (5, 9)),
        "kernel": ((1, 1), (3, 3), (2, 3), (4, 4)),
        "stride": ((1, 1), (2, 2), (1, 2)),
        "pad": ((0, 0), (1, 1), (2, 1), "same", "valid"),
        "dilation": ((1, 1), (2, 2), (1, 2)),
        "groups": (1, 2, "dw"), "bias": (True, False), "batched": (True, False),
        "dtype": DTYPES,
    },
    "pool": {
        "N": (1, 2), "C": (1, 3), "size": ((7, 6), (5, 9), (8, 8)),
        "kernel": ((2, 2), (3, 3), (2, 3), (3, 1)),
        "stride": ((1, 1), (2, 2), (3, 2)),
        "pad": ((0, 0), (1, 1), (1, 0)),
        "dilation": ((1, 1), (2, 2), (1, 2)),
        "ceil_mode": (False, True), "batched": (True, False),
        "dtype": DTYPES, "kind": KINDS["pool"],
    },
    "avgpool": {
        "N": (1, 2), "C": (1, 3), "size": ((7, 6), (5, 9), (8, 8)),
        "kernel": ((2, 2), (3, 3), (2, 3), (3, 1)),
        "stride": ((1, 1), (2, 2), (3, 2)),
        "pad": ((0, 0), (1, 1), (1, 0)),
        "ceil_mode": (False, True), "count_include_pad": (True, False),
        "divisor_override": (None, 3), "batched": (True, False),
        "dtype": DTYPES, "kind": KINDS["avgpool"],
    },
}


# Configurations PyTorch rejects, one per parameter, beside the pairwise grid.
REJECTED = (
    Case("conv", C=3, F=4, kernel=(3, 3), groups=2),
    Case("conv", C=4, F=3, kernel=(3, 3), groups=2),
    Case("conv", kernel=(3, 3), stride=(2, 2), pad="same"),
    Case("conv", kernel=(3, 3), stride=(0, 1)),
    Case("conv", kernel=(3, 3), pad=(-1, 0)),
    Case("conv", kernel=(3, 3), dilation=(0, 1)),
    Case("conv", H=4, W=4, kernel=(3, 3), dilation=(2, 2)),
    Case("pool", kernel=(3, 3), stride=(0, 0)),
    Case("pool", kernel=(2, 2), pad=(0, 2)),
    Case("pool", H=4, W=8, kernel=(3, 3), dilation=(2, 1)),
    Case("avgpool", kernel=(3, 3), pad=(2, 1)),
    Case("avgpool", kernel=(3, 3), divisor_override=0),
    Case("avgpool", kernel=(2, 2), stride=(-1, 1)),
)


def _pairwise(layer: str) -> Iterator[Case]:
    yield from (c for c in REJECTED if c.layer == layer)
    for row in all_pairs(PAIRWISE[layer]):
        h, w = row.pop("size")
        if row.get("groups") == "dw":
            row["groups"] = row["C"]
        yield Case(layer, H=h, W=w, **row)


# The generator of each registry grid key.
GENERATORS = {"windowed": _windowed, "dense": _dense, "curricula": _curricula}


def grid(name: str = "quick", layers: tuple[str, ...] | None = None,
         dtypes: tuple[str, ...] | None = None) -> list[Case]:
    """Cases of the named grid (quick, full, pairwise), optionally filtered; ids unique."""
    if name not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got grid={name!r}")
    chosen = layers or LAYERS
    cases: dict[str, Case] = {}
    for layer in chosen:
        if name == "pairwise":
            gen = _pairwise(layer) if layer in PAIRWISE else iter(())
        else:
            gen = GENERATORS[registry.unit(layer).grid](layer, name == "full")
        for case in gen:
            if dtypes is None or case.dtype in dtypes:
                cases.setdefault(case.id, case)
    return list(cases.values())
