"""The machine a report was made on: CPU, cores, threads, library versions, BLAS."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy: no dict mode
        return "unknown"


def thread_pools() -> list[dict[str, Any]]:
    """threadpoolctl's view of the native thread pools (empty without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"library": i.get("internal_api"), "prefix": i.get("prefix"),
             "version": i.get("version"), "num_threads": i.get("num_threads")}
            for i in threadpool_info()]


def environment(threads: int | None = None) -> dict[str, Any]:
    """Plain dict describing this machine and its libraries; `threads` is what timing used."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    pools = thread_pools()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "load_average_1_5_15min": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "threads_used": threads,
        "torch_threads_default": torch.get_num_threads(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "numpy_blas": _numpy_blas(),
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "thread_pools": "; ".join(f"{p['library']} {p['version'] or ''} "
                                  f"({p['num_threads']} threads)" for p in pools)
                        or "threadpoolctl not installed",
    }
