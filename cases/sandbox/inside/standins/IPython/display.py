"""Stand-in for IPython.display: display and clear_output do nothing."""

from _layercheck_standin import module_getattr as __getattr__  # noqa: F401


def display(*objs: object, **kwargs: object) -> None:
    """Nothing is displayed."""


def clear_output(*args: object, **kwargs: object) -> None:
    """Nothing to clear."""
