"""All-pairs covering arrays: every pair of values of any two dimensions in some row.

Adding a dimension grows the row count roughly with the product of the two largest
value lists, not with the product of all of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any


def _gain(d: int, v: int, chosen: dict[int, int], uncovered: set) -> int:
    """How many uncovered pairs setting dimension d to value v would cover."""
    return sum(((min(d, e), v if d < e else w), (max(d, e), w if d < e else v)) in uncovered
               for e, w in chosen.items())


def all_pairs(dims: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Deterministic greedy covering array: rows (dicts) covering every value pair.

    Each row starts from the first uncovered pair, then fills the other dimensions
    one by one with the value that covers the most still-uncovered pairs.
    """
    names = list(dims)
    if len(names) < 2:
        return [{n: v for n in names} for v in (dims[names[0]] if names else ())]
    uncovered = {
        ((a, i), (b, j))
        for a, b in itertools.combinations(range(len(names)), 2)
        for i in range(len(dims[names[a]]))
        for j in range(len(dims[names[b]]))
    }
    rows: list[dict[str, Any]] = []
    while uncovered:
        (a, i), (b, j) = min(uncovered)
        chosen = {a: i, b: j}
        for d in range(len(names)):
            if d in chosen:
                continue
            chosen[d] = max(range(len(dims[names[d]])),
                            key=lambda v, d=d: _gain(d, v, chosen, uncovered))
        for (d, v), (e, w) in itertools.combinations(sorted(chosen.items()), 2):
            uncovered.discard(((d, v), (e, w)))
        rows.append({names[d]: dims[names[d]][v] for d, v in sorted(chosen.items())})
    return rows
