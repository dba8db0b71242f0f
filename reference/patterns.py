"""Pattern lines: which parameter values or derived conditions separate failing cases from
passing ones, per layer and output, so that one bug reads as one sentence."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from layercheck.cases import registry
from layercheck.cases.case import Case
from layercheck.reference.result import Result


@dataclass(frozen=True)
class Condition:
    """A yes/no question about a case, with words for yes and for no."""

    yes: str
    no: str
    test: Callable[[Case], bool]
    layers: tuple[str, ...] = ()


def _windowed(c: Case) -> bool:
    return c.layer in registry.windowed()


def _not_divisible(c: Case) -> bool:
    pads = (0, 0) if isinstance(c.pad, str) else c.pad
    return any((n + 2 * p - k) % s != 0 for n, p, k, s in
               zip((c.H, c.W), pads, c.kernel, c.stride, strict=True))


W = registry.windowed()
CONDITIONS = (
    Condition("pad = 0", "pad > 0", lambda c: c.pad in ((0, 0), "valid"), W),
    Condition("stride = 1", "stride > 1", lambda c: c.stride == (1, 1), W),
    Condition("stride < kernel (overlapping windows)", "stride >= kernel",
              lambda c: any(s < k for s, k in zip(c.stride, c.kernel, strict=True)), W),
    Condition("stride > kernel (gaps between windows)", "stride <= kernel",
              lambda c: any(s > k for s, k in zip(c.stride, c.kernel, strict=True)), W),
    Condition("(H + 2·pad − kernel) not divisible by the stride",
              "(H + 2·pad − kernel) divisible by the stride", _not_divisible, W),
    Condition("kernel = 1", "kernel > 1", lambda c: c.kernel == (1, 1), W),
    Condition("a non-square kernel", "a square kernel", lambda c: c.kernel[0] != c.kernel[1], W),
    Condition("batch size N = 1", "N > 1", lambda c: c.N == 1),
    Condition("a non-square input (H ≠ W)", "a square input (H = W)", lambda c: c.H != c.W,
              registry.where(family="core", flat=False)),
    Condition("C = 1 channel", "C > 1", lambda c: c.C == 1),
    Condition("F = 1", "F > 1", lambda c: c.F == 1, registry.weighted()),
    Condition("tied values (kind ties)", "no ties", lambda c: c.kind == "ties"),
    Condition("all-negative input (kind negative)", "mixed-sign input",
              lambda c: c.kind == "negative"),
    Condition("large logits (kind large)", "moderate logits", lambda c: c.kind == "large"),
    Condition("one-hot labels", "integer labels", lambda c: c.kind == "onehot"),
    Condition("float32", "float64", lambda c: c.dtype == "f32"),
    Condition("H×W = 1×1", "H×W > 1×1", lambda c: c.H * c.W == 1,
              registry.where(grid="dense", flat=False)),
)


def separate(cases: list[Case], failed: list[bool]) -> str:
    """One sentence on what tells the failing cases from the passing ones."""
    n, k = len(cases), sum(failed)
    if k == 0:
        return ""
    if k == n:
        return f"fails in every case ({k} of {n})"
    layer = cases[0].layer
    usable = [c for c in CONDITIONS if not c.layers or layer in c.layers]
    best_subset: tuple[int, str] | None = None
    for cond in usable:
        hits = [cond.test(c) for c in cases]
        if 0 < sum(hits) < n:
            if hits == failed:
                return f"fails in every case with {cond.yes} and in none with {cond.no}"
            if [not h for h in hits] == failed:
                return f"fails in every case with {cond.no} and in none with {cond.yes}"
        for words, flags in ((cond.yes, hits), (cond.no, [not h for h in hits])):
            size = sum(flags)
            if 0 < size < n and all(f for f, bad in zip(flags, failed, strict=True) if bad):
                if best_subset is None or size < best_subset[0]:
                    best_subset = (size, words)
    pair = _two(usable, cases, failed)
    if pair:
        return pair
    if best_subset is not None:
        return (f"fails only when {best_subset[1]} ({k} of the {best_subset[0]} such cases; "
                f"{n} cases in all)")
    return f"fails in {k} of {n} cases; no single parameter separates them"


def _literals(usable: list[Condition], cases: list[Case]) -> list[tuple[str, list[bool]]]:
    out = []
    for cond in usable:
        hits = [cond.test(c) for c in cases]
        if any(hits) and not all(hits):  # only conditions that vary within the group
            out += [(cond.yes, hits), (cond.no, [not h for h in hits])]
    return out


def _two(usable: list[Condition], cases: list[Case], failed: list[bool]) -> str:
    """'fails exactly when A or B' / 'when A and B', for two conditions that separate."""
    lits = _literals(usable, cases)
    best: tuple[int, str] | None = None
    n, k = len(cases), sum(failed)
    for i, (a, ha) in enumerate(lits):
        for b, hb in lits[i + 1:]:
            if a.split(" ")[0] == b.split(" ")[0]:
                continue
            either = [x or y for x, y in zip(ha, hb, strict=True)]
            if either in (ha, hb):  # one side adds nothing
                continue
            if either == failed:
                return f"fails exactly when {a} or {b}"
            if [x and y for x, y in zip(ha, hb, strict=True)] == failed:
                return f"fails exactly when {a} and {b}"
            size = sum(either)
            covers = all(e for e, bad in zip(either, failed, strict=True) if bad)
            if covers and size < n and (best is None or size < best[0]):
                best = (size, f"{a} or {b}")
    if best is not None and best[0] - k <= max(1, k // 20):
        return f"fails only when {best[1]} ({k} of the {best[0]} such cases; {n} in all)"
    return ""


def _modified_lines(results: list[Result]) -> list[str]:
    by_layer: dict[str, list[Result]] = {}
    for r in results:
        if r.output in ("out", "loss"):
            by_layer.setdefault(r.layer, []).append(r)
    lines = []
    for layer, rs in by_layer.items():
        hit = [r for r in rs if "modified_in_place" in r.codes]
        if hit:
            what = ", ".join(next(d.facts["names"] for d in hit[0].diagnoses
                                  if d.code == "modified_in_place"))
            lines.append(f"{layer}: input modified in place ({what}) in {len(hit)} of "
                         f"{len(rs)} cases")
    return lines


def pattern_lines(results: Iterable[Result], cases: dict[str, Case]) -> list[str]:
    """'layer output: sentence' for every layer and output with a failure (missing excluded)."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        if r.status != "missing" and r.id in cases:
            groups.setdefault((r.layer, r.output), []).append(r)
    lines = _modified_lines([r for rs in groups.values() for r in rs])
    for (layer, output), rs in groups.items():
        words = separate([cases[r.id] for r in rs], [not r.passed for r in rs])
        if words:
            lines.append(f"{layer} {output}: {words}")
    return lines
