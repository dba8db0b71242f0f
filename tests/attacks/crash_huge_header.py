# ruff: noqa
"""grader crash: a reply header announcing 2**64 - 1 bytes."""
import struct
from _tools import HonestRelu, write_frame


class Relu(HonestRelu):
    def forward(self, x):
        write_frame(raw=struct.pack("<4sIQ", b"LCw1", 10, 2**64 - 1))
        return super().forward(x)
