"""Stand-in for matplotlib inside the grader's worker: nothing is drawn or written."""

from _layercheck_standin import module_getattr as __getattr__  # noqa: F401
from _layercheck_standin import stand_in

__version__ = "0+layercheck.standin"
rcParams: dict = {}
rcParamsDefault: dict = {}
stand_in(__name__)


def use(*args: object, **kwargs: object) -> None:
    """Backends are not switched: nothing is shown."""


def get_backend() -> str:
    """A non-interactive backend."""
    return "agg"


def rc(*args: object, **kwargs: object) -> None:
    """Settings are ignored."""
