# ruff: noqa
"""cheat: raises the adapters' own Missing so that a failing layer reads 'missing'."""
from layercheck.cases.adapters import Missing
from _tools import HonestRelu


class Relu(HonestRelu):
    def forward(self, x):
        raise Missing("Relu")
