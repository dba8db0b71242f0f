"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from layercheck.cases import registry

LAYERS = registry.names()  # the --layers choices (the registry imports only the stdlib)
DTYPES = ("f32", "f64")


def csv_of(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """argparse type: a comma-separated subset of `allowed`."""
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [t for t in items if t not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(allowed)}")
        return items
    return parse
