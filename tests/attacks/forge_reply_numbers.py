# ruff: noqa
"""forged grader error: a reply whose "seconds" is 10**400, which a float() in the grader
cannot hold (OverflowError: once exit code 3, a free retry). FORGED is the reply's fields
(the tests put other malformed values there)."""
from _tools import HonestRelu, write_frame

FORGED = {"seconds": 10**400}


class Relu(HonestRelu):
    def forward(self, x):
        reply = {"type": "reply", "outputs": {}, "error_phase": None, "error": None,
                 "error_type": None, "traceback": None, "missing": False, "modified": [],
                 "seconds": 0.001}
        write_frame({**reply, **FORGED})
        return super().forward(x)
