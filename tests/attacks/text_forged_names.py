# ruff: noqa
"""names from the student carry what a writer cannot take: a returned object's type whose
module and name hold lone surrogates, an exception class whose name holds terminal escapes,
a bidi control and a newline, and a traceback whose source line holds a right-to-left
override."""
import numpy as np
from _tools import HonestRelu


class Odd(Exception):
    pass


Odd.__name__ = Odd.__qualname__ = "Odd\x1b]0;pwned\x07Error\u202e\nX"


class Result:
    pass


Result.__qualname__ = "R\ud800\u2066esult\n\tX"
Result.__module__ = "mod\udc80\x1b[31m"


class Relu(HonestRelu):
    def forward(self, x):
        return Result()

    def backward(self, dout):
        raise Odd("\u202e" + "x" * 10 + "\udfff")  # ‮ a right-to-left override
