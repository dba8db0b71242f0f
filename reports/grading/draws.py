"""How a submission's cases are drawn: public, from a course's secret, or afresh.

Without a secret and without hidden cases, a case's arrays come from its public id, as
`pytest` and `layercheck report` draw them: a student can reproduce anything locally. With a
course's secret, every case is drawn from the secret (`cases.inputs.draw_seed`), so a table
of answers made offline with the public tool matches nothing; the truth cache still serves
the whole course, whose draws are the same. Hidden cases are drawn afresh for each
submission (the secret and a random nonce), so not even answers collected from earlier
gradings fit them; their truths are computed, never stored. The ids stay the public ones,
and each failing case's reproducer carries its own seed, so it reproduces the failure the
student saw (and nothing more).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from layercheck.cases.case import Case
from layercheck.cases.inputs import draw_seed
from layercheck.reports.grading.scoring import NO_HIDDEN, Hidden


@dataclass(frozen=True)
class Draws:
    """The seeds of one submission's cases."""

    secret: bytes = field(default=b"", repr=False)
    hidden: Hidden = NO_HIDDEN
    nonce: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)

    def fresh(self, case: Case) -> bool:
        """Whether the case is drawn afresh for this submission (a hidden case)."""
        return self.hidden.is_hidden(case.id)

    def seed(self, case: Case) -> int:
        """The seed of the case's arrays for this submission."""
        if self.fresh(case):
            return draw_seed(case, self.secret + self.nonce)
        return draw_seed(case, self.secret)


PUBLIC = Draws(nonce=b"")  # ids alone: what the public tool draws
