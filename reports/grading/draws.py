"""How a submission's cases are drawn: from a course's secret, afresh, or public.

Grading always draws from a secret: the course's (autograder.json holds its own; an
instructor sets LAYERCHECK_SECRET), else this machine's own, made once and kept beside the
truth cache (`local_secret`). Only the public tool's own runs (`pytest --impl`, `layercheck
report`) and an explicit `secret="public"` draw from the public ids alone. With a secret,
every case is drawn from it (`cases.inputs.draw_seed`), so a table
of answers made offline with the public tool matches nothing; the truth cache still serves
the whole course, whose draws are the same. Hidden cases are drawn afresh for each
submission (the secret and a random nonce), so not even answers collected from earlier
gradings fit them; their truths are computed, never stored. The ids stay the public ones,
and each failing case's reproducer carries its own seed, so it reproduces the failure the
student saw (and nothing more).
"""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass, field

from layercheck.cases.case import Case
from layercheck.cases.inputs import draw_seed
from layercheck.reference.truth_cache import cache_root
from layercheck.reports.grading.scoring import NO_HIDDEN, Hidden

PUBLIC_SECRET = "public"  # the secret that means none: the public ids alone
SECRET_FILE = "secret"  # this machine's own secret, in the truth cache's folder


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


@functools.cache
def local_secret() -> str:
    """This machine's own secret: read from the truth cache's folder, made there once
    (mode 0600, written whole before it appears, so processes starting together agree);
    a process's own when there is no such folder to keep it."""
    root = cache_root()
    if root is None:
        return secrets.token_hex(32)
    path = root / SECRET_FILE
    try:
        if not path.exists():
            root.mkdir(parents=True, exist_ok=True)
            tmp = root / f".{SECRET_FILE}-{os.getpid()}-{secrets.token_hex(4)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)  # atomic: the first process's secret stands
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
    except OSError:
        pass
    return secrets.token_hex(32)


def draws_for(secret: str, hidden: Hidden = NO_HIDDEN) -> Draws:
    """A submission's draws: from `secret` (empty: this machine's own; PUBLIC_SECRET: the
    public ids, hidden cases still afresh)."""
    key = b"" if secret == PUBLIC_SECRET else (secret or local_secret()).encode()
    return Draws(key, hidden)

