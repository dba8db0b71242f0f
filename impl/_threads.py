"""Split memory-bound NumPy work (copies, elementwise loops) over a few threads.

NumPy releases the GIL inside copies and ufunc loops, so cutting a step into parts along
its leading axis uses the cores that PyTorch uses for the same layer. Every part writes
its own slice, so results do not depend on the thread count (except where a layer sums
per-part partial results, such as a convolution's dW: the order of that sum does).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Threads for elementwise steps; set impl._threads.THREADS = 1 to run them serially.
THREADS = max(1, min(4, _cores()))
_MIN_PART = 1 << 16  # elements per part below which a thread costs more than it saves

_pool: ThreadPoolExecutor | None = None


def split(fn: Callable[[int, int], object], n: int, size: int) -> None:
    """Call ``fn(lo, hi)`` on contiguous parts of ``range(n)`` concurrently; wait for all.

    ``size``: elements the whole step touches, so that small steps stay on one thread.
    """
    global _pool
    parts = max(1, min(THREADS, n, size // _MIN_PART))
    if parts == 1:
        fn(0, n)
        return
    if _pool is None:
        _pool = ThreadPoolExecutor(THREADS - 1, thread_name_prefix="impl")
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, parts)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()
