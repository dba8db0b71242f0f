"""The SimpleConvNet training section of the report (placeholder until issue 7 lands)."""

from __future__ import annotations

from pathlib import Path


def training_section(out_dir: Path) -> tuple[str, str]:
    """(markdown, html) for the report; writes any images under out_dir. Empty for now."""
    return "", ""
