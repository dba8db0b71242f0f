# ruff: noqa
"""grader crash: a reply nested 200,000 deep (a deeply nested pickle segfaulted)."""
import struct
from _tools import HonestRelu, write_frame


class Relu(HonestRelu):
    def forward(self, x):
        body = b"[" * 200_000 + b"]" * 200_000
        write_frame(raw=struct.pack("<4sIQ", b"LCw1", len(body), 0) + body)
        return super().forward(x)
