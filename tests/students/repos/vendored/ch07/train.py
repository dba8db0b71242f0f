# ruff: noqa  (student code, kept as students write it)
"""A training script using the vendored book layers and the student's own pooling."""
import os
import sys

sys.path.append(os.pardir)
from common.layers import Affine, Relu
from my_pool import MaxPool

if __name__ == "__main__":
    print(Affine, Relu, MaxPool)
