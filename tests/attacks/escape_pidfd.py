# ruff: noqa
"""escape (grader crash): pidfd_send_signal on the process above it."""
import os
import signal
from _tools import HonestRelu


class Relu(HonestRelu):
    def forward(self, x):
        fd = os.pidfd_open(os.getppid())
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return super().forward(x)
