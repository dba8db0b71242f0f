"""Stand-in for IPython inside the grader's worker (no kernel, no display)."""

from _layercheck_standin import module_getattr as __getattr__  # noqa: F401
from _layercheck_standin import stand_in

__version__ = "0+layercheck.standin"
stand_in(__name__)


def get_ipython() -> None:
    """Not running under IPython."""
    return None


def display(*objs: object, **kwargs: object) -> None:
    """Nothing is displayed."""


def embed(*args: object, **kwargs: object) -> None:
    """No shell is started."""
