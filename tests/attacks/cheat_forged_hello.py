# ruff: noqa
"""cheat: writes a forged hello (every layer present) on the reply pipe, then fails."""
from _tools import write_frame

write_frame({"type": "hello", "ok": True, "has": ["Relu", "Convolution", "Affine"]})
raise ImportError("the real import fails")
