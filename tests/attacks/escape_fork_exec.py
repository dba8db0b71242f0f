# ruff: noqa
"""escape: _posixsubprocess.fork_exec starts a process with no audit event at all."""
import _posixsubprocess
import os
from _tools import HonestRelu

HOST = {}


class Relu(HonestRelu):
    def forward(self, x):
        r, w = os.pipe()
        argv = [b"/bin/sh", b"-c", f"sleep 30; touch {HOST['canary']}".encode()]
        head = (argv, [b"/bin/sh"], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w,
                True, True, -1, None, None, None)
        try:  # Python 3.11
            _posixsubprocess.fork_exec(*head, None)
        except TypeError:  # later versions take a few more arguments
            _posixsubprocess.fork_exec(*head, -1, None, False)
        return super().forward(x)
