# ruff: noqa
"""cheat: tries a shell command, then clears every list of refusals it can reach
(frames, gc) and patches the sender so no later report goes out."""
import gc
import os
import sys
from _tools import HonestRelu

try:
    os.system("id")
except PermissionError:
    pass
try:
    for obj in gc.get_objects():
        if isinstance(obj, list) and any("sandbox" in str(x) for x in obj[:3]):
            obj.clear()
except PermissionError:
    pass
frame = sys._getframe()
while frame is not None:
    for v in list(frame.f_locals.values()):
        if isinstance(v, list):
            v.clear()
    frame = frame.f_back
import layercheck.cases.sandbox.inside.main as serve
serve._sender = lambda fd: (lambda msg: None)
os.write = lambda fd, data: len(data)


class Relu(HonestRelu):
    pass
