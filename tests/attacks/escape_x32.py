# ruff: noqa
"""escape: the same forbidden calls through the x32 ABI's numbers (0x40000000 + nr) and
the 32-bit int 0x80 gate's arch, which a filter written for x86_64 numbers alone misses."""
from _tools import HonestRelu, disable_audit_hook, libc, report

OFF = disable_audit_hook()


class Relu(HonestRelu):
    def forward(self, x):
        import ctypes
        c = libc()
        r = c.syscall(0x40000000 | 57)  # x32 fork
        if r == 0:
            c._exit(0)  # the child, had it been born
        report(x32_fork=r, errno=ctypes.get_errno())
