# ruff: noqa
"""grader memory over time: on every case, forty well-formed notes of a 1 MiB array each
(the notes backward sends when it starts), so that one worker's messages add up."""
import numpy as np
import struct
import json
from _tools import HonestRelu, write_frame

MIB = 1 << 20


class Relu(HonestRelu):
    def forward(self, x):
        body = json.dumps({"type": "note", "phase": "backward",
                           "outputs": {"out": {"$nd": ["<f8", [MIB // 8], 0]}}}).encode()
        frame = struct.pack("<4sIQ", b"LCw1", len(body), MIB) + body + b"\0" * MIB
        for _ in range(40):
            write_frame(raw=frame)
        return super().forward(x)
