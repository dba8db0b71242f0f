# ruff: noqa
"""grader crash: kill(-1, SIGKILL) with the hook off: every process it can signal."""
import os
import signal
from _tools import HonestRelu, disable_audit_hook

OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:  # nothing it may signal: the sandbox holds only itself
            pass
        return super().forward(x)
