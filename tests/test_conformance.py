"""Conformance of impl/: the packaged suite (layercheck.reports.conformance), same ids."""

from layercheck.reports.conformance import *  # noqa: F403
