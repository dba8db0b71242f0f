# ruff: noqa
"""cheat: answers a case with a forged reply claiming statuses and no modification,
then returns wrong values itself."""
import numpy as np
from _tools import write_frame


class Relu:
    def forward(self, x):
        write_frame({"type": "reply", "outputs": {}, "status": "pass", "missing": True,
                     "modified": [], "error": None})
        return np.zeros_like(x)

    def backward(self, dout):
        return np.zeros_like(dout)
