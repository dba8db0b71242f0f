# ruff: noqa
"""grader crash: garbage bytes on the reply pipe, then an exit in the middle of a case."""
import os
from _tools import HonestRelu, write_frame


class Relu(HonestRelu):
    def forward(self, x):
        write_frame(raw=os.urandom(64))
        os._exit(0)
