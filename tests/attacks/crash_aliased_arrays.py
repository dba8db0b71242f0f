# ruff: noqa
"""grader memory: one 4 MiB reply frame whose 512 array entries all point at the same
bytes; decoding each entry as a copy would cost the grader 2 GiB."""
import json
import struct
from _tools import HonestRelu, write_frame

SIZE = 4 << 20
ENTRIES = 512


class Relu(HonestRelu):
    def forward(self, x):
        entry = {"$nd": ["<f8", [SIZE // 8], 0]}
        body = json.dumps({"type": "reply", "outputs": {"out": [entry] * ENTRIES},
                           "error": None, "seconds": 0.0}).encode()
        write_frame(raw=struct.pack("<4sIQ", b"LCw1", len(body), SIZE) + body
                    + b"\0" * SIZE)
        return super().forward(x)
