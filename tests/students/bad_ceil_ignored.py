# ruff: noqa  (student code, kept as students write it)
"""Wrong: accepts ceil_mode and drops it (output size floored where PyTorch ceils)."""
import impl


class Pooling(impl.Pooling):
    def __init__(self, pool_h, pool_w, stride=1, pad=0, ceil_mode=False):
        super().__init__(pool_h, pool_w, stride, pad)  # ceil_mode accepted, then dropped
