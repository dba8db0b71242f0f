"""Stand-in for matplotlib.pyplot: every call returns a harmless stand-in object."""

from _layercheck_standin import NOTHING, Nothing
from _layercheck_standin import module_getattr as __getattr__  # noqa: F401


def subplots(nrows: int = 1, ncols: int = 1, *args: object, **kwargs: object
             ) -> tuple[Nothing, Nothing]:
    """(figure, axes), both stand-ins."""
    return NOTHING, NOTHING


def show(*args: object, **kwargs: object) -> None:
    """Nothing is shown."""


def savefig(*args: object, **kwargs: object) -> None:
    """Nothing is written."""
