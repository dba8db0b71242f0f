# ruff: noqa
"""denial of service: the worker stops reading its requests (its reader is patched to
sleep), so a large case would block a grader that writes without a deadline."""
import time
import layercheck.cases.sandbox.inside.main as serve
from _tools import HonestRelu

serve.read_header = lambda head, *a: time.sleep(3600)


class Relu(HonestRelu):
    pass
