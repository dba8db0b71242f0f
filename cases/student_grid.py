"""The student grid: small shapes (naive loops finish in seconds) with every kernel, stride,
pad, batch-one, non-square, tied and all-negative kind of the quick grid.

Only configurations PyTorch accepts are included (the notes' API does not ask students to
validate arguments), and only what the student's API can express.
"""

from __future__ import annotations

import itertools

from layercheck.cases import registry
from layercheck.cases.case import Case
from layercheck.cases.functional import supports
from layercheck.cases.grids import BATCH, CHANNELS, FILTERS, KERNELS, PADS, SIZES, STRIDES, grid
from layercheck.cases.inputs import rejection
from layercheck.cases.pairwise import all_pairs

DENSE_SIZES = ((4, 5), (3, 3), (1, 1))


def _windowed(layer: str, dtype: str) -> list[Case]:
    kinds = registry.unit(layer).student_input_kinds
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
    kinds = registry.unit(layer).student_input_kinds
    if layer == "softmax":
        return [Case("softmax", N=n, C=c, dtype=dtype, kind=kind)
                for n, c, kind in itertools.product((1, 2, 5), (2, 10), kinds)]
    filters = FILTERS if layer in registry.weighted() else (1,)
    return [Case(layer, n, c, h, w, f, dtype=dtype, kind=kind)
            for n, c, (h, w), f, kind in itertools.product(BATCH, CHANNELS, DENSE_SIZES,
                                                           filters, kinds)]


# PyTorch's arguments beyond the notes' API, sent only to classes whose __init__ names them:
# all pairs of their values with the notes' int kernel, stride and pad.
EXTRAS = {
    "conv": {"dilation": ((1, 1), (2, 2)), "groups": (1, 2)},
    "pool": {"dilation": ((1, 1), (2, 2)), "ceil_mode": (False, True)},
    "avgpool": {"ceil_mode": (False, True), "count_include_pad": (True, False),
                "divisor_override": (None, 3)},
}
_PLAIN = {"N": (1, 2), "kernel": ((2, 2), (3, 3)), "stride": ((1, 1), (2, 2)),
          "pad": ((0, 0), (1, 1)), "size": ((7, 6), (6, 9))}


_DEFAULTS = Case("conv")


def extras_used(case: Case) -> set[str]:
    """PyTorch arguments beyond the notes' API that the case sets away from their default."""
    names = {n for v in EXTRAS.values() for n in v}
    return {n for n in names if getattr(case, n) != getattr(_DEFAULTS, n)}


def notes_shaped(case: Case) -> bool:
    """Int stride and pad, a bias and a batch axis: what a notes-style class is handed."""
    return (not isinstance(case.pad, str) and case.pad[0] == case.pad[1]
            and case.stride[0] == case.stride[1] and case.bias and case.batched)


def _extra_cases(layer: str, dtype: str, accepted: set[str]) -> list[Case]:
    """Cases using the extras `accepted` names (each at a non-default value somewhere)."""
    dims = {k: v for k, v in EXTRAS.get(layer, {}).items() if k in accepted}
    if not dims:
        return []
    out = []
    for row in all_pairs({**_PLAIN, **dims}):
        h, w = row.pop("size")
        c = Case(layer, C=2, H=h, W=w, F=4 if layer == "conv" else 1, dtype=dtype, **row)
        if extras_used(c):
            out.append(c)
    return out


def _curricula(layer: str, dtype: str) -> list[Case]:
    return grid("quick", (layer,), (dtype,))


# The generator of each registry grid key.
GENERATORS = {"windowed": _windowed, "dense": _dense, "curricula": _curricula}


def student_grid(layers: tuple[str, ...], dtypes: tuple[str, ...] = ("f64",),
                 api: str = "class", accepts: dict[str, set[str]] | None = None) -> list[Case]:
    """Valid cases for the layers, in the dtypes, that the API ('class'|'functional') can take.

    `accepts` maps a layer to its class's __init__ parameter names: pairwise-grid cases
    using PyTorch's extra arguments (EXTRAS) are added where the class accepts them.
    """
    cases: dict[str, Case] = {}
    for dtype in dtypes:
        for layer in layers:
            for c in GENERATORS[registry.unit(layer).grid](layer, dtype):
                if rejection(c) is None and (api == "class" or supports(c)):
                    cases.setdefault(c.id, c)
            if api == "class" and accepts:
                for c in _extra_cases(layer, dtype, accepts.get(layer, set())):
                    if rejection(c) is None:
                        cases.setdefault(c.id, c)
    return list(cases.values())
