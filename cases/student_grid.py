"""The student grid: small shapes (naive loops finish in seconds) with every kernel, stride,
pad, batch-one, non-square, tied and all-negative kind of the quick grid.

Only configurations PyTorch accepts are included (the notes' API does not ask students to
validate arguments), and only what the student's API can express.
"""

from __future__ import annotations

import itertools

from cases.case import Case
from cases.functional import supports
from cases.grids import BATCH, CHANNELS, FILTERS, KERNELS, PADS, SIZES, STRIDES
from cases.inputs import rejection

POOL_KINDS = ("normal", "ties", "negative")
AVGPOOL_KINDS = ("normal", "negative")
DENSE_SIZES = ((4, 5), (3, 3), (1, 1))


def _windowed(layer: str, dtype: str) -> list[Case]:
    kinds = {"conv": ("normal",), "pool": POOL_KINDS, "avgpool": AVGPOOL_KINDS}[layer]
    out = []
    combos = itertools.product(KERNELS, STRIDES, PADS, kinds)
    for i, (k, s, p, kind) in enumerate(combos):
        h, w = SIZES[i % 3]  # (7, 5), (6, 9), (8, 8): non-square and square
        n = BATCH[(i + i // 3) % 3]  # cycled apart from the size, so patterns separate
        c, f = CHANNELS[(i // 2) % 2], FILTERS[(i // 5) % 2]
        out.append(Case(layer, n, c, h, w, f if layer == "conv" else 1, k, (s, s), (p, p),
                        dtype, kind))
    return out


def _dense(layer: str, dtype: str) -> list[Case]:
    if layer == "softmax":
        return [Case("softmax", N=n, C=c, dtype=dtype, kind=kind)
                for n, c, kind in itertools.product((1, 2, 5), (2, 10),
                                                    ("normal", "onehot", "large"))]
    kinds = ("normal", "ties") if layer == "relu" else ("normal",)
    filters = (1,) if layer == "relu" else FILTERS
    return [Case(layer, n, c, h, w, f, dtype=dtype, kind=kind)
            for n, c, (h, w), f, kind in itertools.product(BATCH, CHANNELS, DENSE_SIZES,
                                                           filters, kinds)]


def student_grid(layers: tuple[str, ...], dtypes: tuple[str, ...] = ("f64",),
                 api: str = "class") -> list[Case]:
    """Valid cases for the layers, in the dtypes, that the API ('class'|'functional') can take."""
    cases: dict[str, Case] = {}
    for dtype in dtypes:
        for layer in layers:
            gen = (_windowed(layer, dtype) if layer in ("conv", "pool", "avgpool")
                   else _dense(layer, dtype))
            for c in gen:
                if rejection(c) is None and (api == "class" or supports(c)):
                    cases.setdefault(c.id, c)
    return list(cases.values())
