# ruff: noqa
"""cheat (folder submission): the layers come from a compiled module shipped beside the
file (here fastrelu.*.so, written by the test), which would run native code unseen."""
from fastrelu import Relu  # noqa: F401
