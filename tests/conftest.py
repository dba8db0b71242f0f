"""Test-wide settings. The `--impl` option and the conformance fixtures come from the
package's pytest plugin (layercheck.reports.pytest_plugin, a pytest11 entry point)."""

import torch

# The oracle's tensors are tiny: one thread is ~10x faster than two on a busy 2-core machine.
torch.set_num_threads(1)
