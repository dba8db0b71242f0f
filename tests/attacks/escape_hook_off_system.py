# ruff: noqa
"""escape: switches the audit hook off through a traceback's frames, then runs a shell
command (held by seccomp: a new process kills the worker)."""
import os
from _tools import HonestRelu, disable_audit_hook

HOST = {}
OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        os.system(f"touch {HOST['canary']}")
        return super().forward(x)
