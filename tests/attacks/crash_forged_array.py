# ruff: noqa
"""grader crash: a reply whose array claims more bytes than it has, a negative shape
and an object dtype."""
import struct
import json
from _tools import HonestRelu, write_frame


class Relu(HonestRelu):
    def forward(self, x):
        body = json.dumps({"type": "reply", "outputs": {
            "out": {"$nd": ["<f8", [10**9, 10**9], 0]},
            "dx": {"$nd": ["|O", [-1], 0]}}}).encode()
        write_frame(raw=struct.pack("<4sIQ", b"LCw1", len(body), 8) + body + b"\0" * 8)
        return super().forward(x)
