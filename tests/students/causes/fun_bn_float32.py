# ruff: noqa  (student code, kept as students write it)
# cause: float32_arithmetic
# layers: batchnorm
"""batchnorm_forward computes in float32 whatever the input dtype."""
import numpy as np

import cs231n_base
from cs231n_base import *  # noqa: F403


def batchnorm_forward(x, gamma, beta, bn_param):
    out, cache = cs231n_base.batchnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                               beta.astype(np.float32), bn_param)
    return out.astype(x.dtype), cache
