# ruff: noqa
"""cheat: torch imported under a computed name inside forward, then removed from
sys.modules; torch is not mounted, so the import itself fails."""
import importlib
import sys
from _tools import HonestRelu


class Relu(HonestRelu):
    def forward(self, x):
        torch = importlib.import_module("tor" + "ch")
        try:
            return torch.relu(torch.from_numpy(x)).numpy()
        finally:
            sys.modules.pop("torch", None)
