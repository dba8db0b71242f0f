# ruff: noqa
"""write: os.mkfifo / os.mknod with the hook off (a device or a fifo in the grader's way)."""
import os
from _tools import HonestRelu, disable_audit_hook

OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        os.mkfifo("fifo")
        return super().forward(x)
