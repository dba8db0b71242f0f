"""Plain-words diagnoses for the curricula's other layers (issue 13)."""

from __future__ import annotations

from cases.case import Case
from reference.dropout_judge import FALSE_ALARM, keep_probability


def keep_words(case: Case, rate: float, p_value: float) -> str:
    """Why the kept share fails the binomial test, with the likely mix-up named."""
    want = keep_probability(case)
    head = (f"kept {rate:.3f} of the elements where the keep probability is {want:g} "
            f"(binomial test p-value {p_value:.2g} < {FALSE_ALARM:g})")
    if abs(rate - (1 - want)) < abs(rate - want):
        if case.layer == "dropout":
            return (f"{head}: dropout_ratio is the probability of dropping (the notes: "
                    f"mask = rand(...) > dropout_ratio), used here as the keep probability")
        return (f"{head}: p is the probability of keeping (CS231n: mask = (rand(...) < p) "
                f"/ p), used here as the drop probability")
    return head
