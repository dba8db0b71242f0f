# ruff: noqa
"""cheat: reads the oracle (reference/ is not mounted), at import, caught, then by path."""
import sys
from _tools import HonestRelu, report

HOST = {}
found = {}
try:
    import layercheck.reference.oracle  # noqa: F401
    found["import"] = "worked"
except ImportError as e:
    found["import"] = repr(e)
sys.path.append(HOST["project"])
try:
    import impl  # noqa: F401
    found["syspath"] = "worked"
except ImportError as e:
    found["syspath"] = repr(e)
report(**found)
