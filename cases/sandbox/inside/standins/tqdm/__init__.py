"""Stand-in for tqdm inside the grader's worker: the iterable itself, no progress bar."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from _layercheck_standin import NOTHING, stand_in

__version__ = "0+layercheck.standin"
stand_in(__name__)


def tqdm(iterable: Iterable | None = None, *args: Any, **kwargs: Any) -> Any:
    """The iterable, unchanged (a stand-in object when there is none)."""
    return NOTHING if iterable is None else iterable


def trange(*args: Any, **kwargs: Any) -> range:
    """range(*args)."""
    return range(*args)
