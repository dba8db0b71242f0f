# ruff: noqa
"""grader memory, variant: a reply whose arrays, each with bytes of its own, add up to 8
bytes over what one reply may decode to (64 MiB)."""
import json
import struct
from _tools import HonestRelu, write_frame

MAX_REPLY = 64 << 20  # what one reply may decode to in the grader (wire.MAX_REPLY)


class Relu(HonestRelu):
    def forward(self, x):
        cap = MAX_REPLY
        half = cap // 2
        outs = {"out": {"$nd": ["|u1", [half], 0]}, "dx": {"$nd": ["|u1", [half + 8], half]}}
        body = json.dumps({"type": "reply", "outputs": outs}).encode()
        write_frame(raw=struct.pack("<4sIQ", b"LCw1", len(body), cap + 8) + body
                    + b"\0" * (cap + 8))
        return super().forward(x)
