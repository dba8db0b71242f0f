# ruff: noqa  (student code, kept as students write it)
"""Wrong: raises as soon as it is imported."""
from good_im2col import *  # noqa: F403

raise RuntimeError("unfinished homework")
