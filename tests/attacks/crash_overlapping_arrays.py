# ruff: noqa
"""grader memory, variant: entries that share bytes without being equal (an array that
starts inside another, a scalar inside both, the last one pointing back to the start)."""
import json
import struct
from _tools import HonestRelu, write_frame


class Relu(HonestRelu):
    def forward(self, x):
        outs = {"out": {"$nd": ["<f8", [2], 0]}, "dx": {"$nd": ["<f8", [2], 8]},
                "loss": {"$sc": ["<f8", 16]}, "db": {"$nd": ["<f8", [3], 0]}}
        body = json.dumps({"type": "reply", "outputs": outs}).encode()
        write_frame(raw=struct.pack("<4sIQ", b"LCw1", len(body), 24) + body + b"\0" * 24)
        return super().forward(x)
