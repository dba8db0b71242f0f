# ruff: noqa
"""escape: ptrace attaches to the process above it (hook off, through ctypes)."""
from _tools import HonestRelu, disable_audit_hook, libc

OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        libc().ptrace(16, 1, 0, 0)  # PTRACE_ATTACH to pid 1
        return super().forward(x)
