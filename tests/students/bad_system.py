# ruff: noqa  (student code, kept as students write it)
"""Tampering: tries to run shell commands (at import, caught; in ReLU forward, not caught).
Its other layers are correct."""
import os
import subprocess

from good_im2col import *  # noqa: F403
from good_im2col import Relu as _Relu

try:
    subprocess.run(["touch", "/tmp/layercheck-canary-from-subprocess"])
except OSError:
    pass


class Relu(_Relu):
    def forward(self, x):
        os.system("echo pwned > /tmp/layercheck-canary-from-system")
        return super().forward(x)
