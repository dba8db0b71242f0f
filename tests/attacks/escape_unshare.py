# ruff: noqa
"""escape: a new user namespace to regain capabilities (hook off, through ctypes)."""
from _tools import HonestRelu, disable_audit_hook, libc

OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        libc().unshare(0x10000000)  # CLONE_NEWUSER
        return super().forward(x)
