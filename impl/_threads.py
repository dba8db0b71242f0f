"""Split NumPy work (copies, elementwise loops, matrix products) over a few threads.

NumPy releases the GIL inside copies, ufunc loops and matrix products, so cutting a step
into parts along its leading axis uses the cores that PyTorch uses for the same layer.
Every part writes its own slice, so results do not depend on the thread count (except
where a layer sums per-part partial results, such as a convolution's dW: the order of
that sum does).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

try:  # optional: without it, BLAS keeps its own thread count
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover
    ThreadpoolController = None


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _budget() -> int:
    """Threads to use: the cores, at most 4, and at most OMP_NUM_THREADS where that is set
    (the usual way to ask numerical code for fewer threads; layercheck's sandbox sets 1)."""
    n = min(4, _cores())
    try:
        n = min(n, int(os.environ.get("OMP_NUM_THREADS", n)))
    except ValueError:
        pass
    return max(1, n)


# Threads for impl's steps; set layercheck.impl._threads.THREADS = 1 to run them serially.
THREADS = _budget()
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


_blas = None


@contextlib.contextmanager
def blas_single() -> Iterator[None]:
    """BLAS on one thread per call while impl splits matrix products over its own threads.

    OpenBLAS threads only large products, and its workers keep spinning for a while after
    one, taking the core that impl's next step (or PyTorch) needs; impl's sample-wise
    split of every product uses both cores without that. No-op where THREADS is 1.
    """
    global _blas
    if THREADS == 1 or ThreadpoolController is None:
        yield
        return
    if _blas is None:
        _blas = ThreadpoolController()
    with _blas.limit(limits=1, user_api="blas"):
        yield
