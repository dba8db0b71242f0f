"""Timing impl/ against PyTorch in the manner of torch.utils.benchmark.

Both sides run in this process with the thread count fixed (torch.set_num_threads and,
where threadpoolctl is installed, NumPy's BLAS pool). Forward, backward and forward+backward
are timed separately; each is warmed up, then timed in `repeats` rounds of blocks of calls:
all impl blocks, a pause, all PyTorch blocks, a pause, so drift hits both alike while one
library's spinning threads never steal a core from the other. A block's time divided by its number
of calls is one sample; medians and interquartile ranges are over the samples.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import math
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as TF
from layercheck.cases import registry
from layercheck.cases.adapters import CLASS_NAMES
from layercheck.cases.case import Case
from layercheck.cases.inputs import make_inputs, output_shape
from layercheck.impl import _threads as _impl_threads

PHASES = ("forward", "backward", "fwd+bwd")
SIDES = ("impl", "PyTorch")


@dataclass(frozen=True)
class BenchShape:
    """One named benchmark configuration: a short column name and the `Case` it times."""

    name: str
    case: Case
    net: str | None = None  # a training step of this network (the case gives x's shape)

    @property
    def layer(self) -> str:
        return "train" if self.net else self.case.layer

    @property
    def dtype(self) -> str:
        return self.case.dtype

    @property
    def column(self) -> str:
        """Column heading in a layer's speed table, e.g. ``mnist f32``."""
        return f"{self.name} {self.dtype}"

    @property
    def key(self) -> str:
        """Unique name across layers, e.g. ``conv mnist f32``; the `shape` of timing rows."""
        return f"{self.layer} {self.column}"

    def describe(self) -> str:
        """The shape in words, e.g. ``x 100×1×28×28, 30 filters 5×5, stride 1, pad 0``."""
        c = self.case
        x = "×".join(map(str, c.x_shape))
        if self.net:
            return (f"{self.net} training step (forward, backward, SGD update) on x {x}, "
                    f"integer labels")
        if c.layer == "conv":
            g = f", groups {c.groups}" if c.groups != 1 else ""
            return (f"x {x}, {c.F} filters {c.kernel[0]}×{c.kernel[1]}, stride {c.stride[0]}, "
                    f"pad {c.pad[0]}{g}")
        if c.layer in registry.pooling():
            return (f"x {x}, window {c.kernel[0]}×{c.kernel[1]}, stride {c.stride[0]}, "
                    f"pad {c.pad[0]}")
        if c.layer == "affine":
            return f"x {x} → {c.F} features"
        if c.layer == "softmax":
            return f"logits {x}, integer labels"
        return f"x {x}"


def _conv(name: str, N: int, C: int, H: int, W: int, F: int, k: int, s: int, p: int,
          g: int = 1, *, dtype: str) -> BenchShape:
    return BenchShape(name, Case("conv", N, C, H, W, F, (k, k), (s, s), (p, p), dtype,
                                 groups=g))


def _pool(layer: str, name: str, N: int, C: int, H: int, k: int, s: int, p: int) -> BenchShape:
    return BenchShape(name, Case(layer, N, C, H, H, 1, (k, k), (s, s), (p, p), "f32"))


CONV_SHAPES: dict[str, tuple[int, ...]] = {
    "mnist": (100, 1, 28, 28, 30, 5, 1, 0),  # the notes' SimpleConvNet layer on MNIST
    "cifar": (64, 3, 32, 32, 32, 3, 1, 1),
    "c64": (32, 64, 16, 16, 64, 3, 1, 1),
    "s2": (8, 16, 64, 64, 16, 3, 2, 1),
    "dw": (32, 64, 32, 32, 64, 3, 1, 1, 64),  # depthwise (groups = C), as in MobileNet
    "1x1": (32, 64, 16, 16, 128, 1, 1, 0),  # pointwise
}

# Training steps: the network's name in impl, and the case whose x shape it trains on.
NET_SHAPES: dict[str, tuple[int, ...]] = {
    "SimpleConvNet": (100, 1, 28, 28),  # the notes' default sizes
    "LeNet": (100, 1, 28, 28),
    "AlexNet": (64, 3, 32, 32),  # impl.AlexNet's default, scaled-down sizes
}
LEARNING_RATE = 0.1

SHAPES: tuple[BenchShape, ...] = (
    *(_conv(n, *v, dtype=dt) for dt in ("f32", "f64") for n, v in CONV_SHAPES.items()),
    _pool("pool", "mnist 2x2s2", 100, 30, 24, 2, 2, 0),
    _pool("pool", "3x3s2p1", 32, 64, 32, 3, 2, 1),
    _pool("avgpool", "mnist 2x2s2", 100, 30, 24, 2, 2, 0),
    BenchShape("mnist hidden", Case("affine", 100, 30, 12, 12, 100, dtype="f32")),
    BenchShape("mnist", Case("relu", 100, 30, 24, 24, dtype="f32")),
    BenchShape("mnist", Case("softmax", N=100, C=10, dtype="f32")),
    *(BenchShape(n, Case("conv", *v, F=1, dtype=dt), net=n)
      for dt in ("f32", "f64") for n, v in NET_SHAPES.items()),
)

# The issue-15 goals on impl/PyTorch ratios: (label, layer, dtype or None for all, phase,
# "worst" shape or "geomean" over shapes, limit).
SPEED_GOALS = (
    ("conv fwd+bwd f32, worst shape", "conv", "f32", "fwd+bwd", "worst", 1.25),
    ("conv fwd+bwd f64, worst shape", "conv", "f64", "fwd+bwd", "worst", 1.0),
    ("max pool fwd+bwd geomean", "pool", None, "fwd+bwd", "geomean", 1.2),
    ("max pool forward geomean", "pool", None, "forward", "geomean", 1.2),
    ("max pool backward geomean", "pool", None, "backward", "geomean", 1.2),
    ("avg pool fwd+bwd geomean", "avgpool", None, "fwd+bwd", "geomean", 1.2),
    ("relu fwd+bwd geomean", "relu", None, "fwd+bwd", "geomean", 1.2),
    ("affine fwd+bwd geomean", "affine", None, "fwd+bwd", "geomean", 1.2),
    ("softmax fwd+bwd geomean", "softmax", None, "fwd+bwd", "geomean", 1.2),
    ("training step f32, worst net", "train", "f32", "fwd+bwd", "worst", 1.0),
    ("training step f64, worst net", "train", "f64", "fwd+bwd", "worst", 1.0),
)
MEMORY_GOAL = 1.5


def select_shapes(layers: Sequence[str] | None = None, dtypes: Sequence[str] | None = None,
                  names: Sequence[str] | None = None) -> list[BenchShape]:
    """The default shapes filtered by layer, dtype and (column or short) name."""
    return [s for s in SHAPES
            if (layers is None or s.layer in layers)
            and (dtypes is None or s.dtype in dtypes)
            and (names is None or s.name in names or s.column in names or s.key in names
                 or f"{s.layer} {s.name}" in names)]


# --- threads -----------------------------------------------------------------------------

@contextlib.contextmanager
def fixed_threads(n: int) -> Iterator[list[dict[str, Any]]]:
    """Fix torch's and (with threadpoolctl) NumPy's BLAS thread counts to `n` inside.

    Yields what the thread pools report inside the block: one dict per pool with
    `library`, `num_threads` and, without threadpoolctl, a note saying the BLAS pool
    was left alone.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    seen: list[dict[str, Any]] = [{"library": "torch", "num_threads": torch.get_num_threads()}]
    impl_before = _impl_threads.THREADS
    _impl_threads.THREADS = n  # impl's own Python threads for elementwise steps
    seen.append({"library": "impl (Python threads)", "num_threads": n})
    try:
        try:
            from threadpoolctl import threadpool_info, threadpool_limits
        except ImportError:  # report what is seen rather than fail
            seen.append({"library": "numpy BLAS", "num_threads": None,
                         "note": "threadpoolctl not installed: NumPy's BLAS threads not fixed"})
            yield seen
            return
        with threadpool_limits(limits=n):
            seen += [{"library": f"{i.get('internal_api')} ({i.get('prefix')})",
                      "num_threads": i.get("num_threads"), "version": i.get("version")}
                     for i in threadpool_info()]
            yield seen
    finally:
        torch.set_num_threads(before)
        _impl_threads.THREADS = impl_before


# --- the two sides -----------------------------------------------------------------------

@dataclass
class Side:
    """Callables for one implementation of one shape; None where it cannot run."""

    forward: Callable[[], Any] | None = None
    backward: Callable[[], Any] | None = None
    both: Callable[[], Any] | None = None
    error: str | None = None

    def fn(self, phase: str) -> Callable[[], Any] | None:
        return {"forward": self.forward, "backward": self.backward, "fwd+bwd": self.both}[phase]


def impl_side(mod: ModuleType, case: Case, a: dict[str, Any]) -> Side:
    """The notes' class API of `mod` (e.g. impl) on the case's arrays."""
    cls = getattr(mod, CLASS_NAMES[case.layer], None)
    if cls is None:
        return Side(error=f"{mod.__name__} has no {CLASS_NAMES[case.layer]}")
    kh, kw = case.kernel
    s, p = case.stride[0], case.pad[0]
    try:
        if case.layer == "conv":
            layer = cls(a["W"], a["b"], s, p, **({"groups": case.groups}
                                                  if case.groups != 1 else {}))
        elif case.layer in registry.pooling():
            layer = cls(kh, kw, s, p)
        elif case.layer == "affine":
            layer = cls(a["W"], a["b"])
        else:
            layer = cls()
        x, dout = a["x"], a["dout"]
        if case.layer == "softmax":
            t, d = a["t"], float(a["dout"])
            fwd: Callable[[], Any] = lambda: layer.forward(x, t)  # noqa: E731
            bwd: Callable[[], Any] = lambda: layer.backward(d)  # noqa: E731
        else:
            fwd = lambda: layer.forward(x)  # noqa: E731
            bwd = lambda: layer.backward(dout)  # noqa: E731
        fwd()
        bwd()  # runs once here so a broken layer is reported, not timed
    except Exception as e:
        return Side(error=f"{type(e).__name__}: {e}")

    def both() -> Any:
        fwd()
        return bwd()

    return Side(fwd, bwd, both)


def torch_side(case: Case, a: dict[str, Any]) -> Side:
    """PyTorch at the case's dtype: inputs require grad, backward by autograd.grad."""
    x = torch.from_numpy(a["x"]).requires_grad_()
    wrt = [x]
    s, p = case.stride[0], case.pad[0]
    if case.layer == "conv":
        W, b = (torch.from_numpy(a[k]).requires_grad_() for k in ("W", "b"))
        wrt += [W, b]
        f: Callable[[], torch.Tensor] = lambda: TF.conv2d(  # noqa: E731
            x, W, b, s, p, groups=case.groups)
    elif case.layer == "pool":
        f = lambda: TF.max_pool2d(x, case.kernel, s, p)  # noqa: E731
    elif case.layer == "avgpool":
        f = lambda: TF.avg_pool2d(x, case.kernel, s, p)  # noqa: E731
    elif case.layer == "affine":
        W, b = (torch.from_numpy(a[k]).requires_grad_() for k in ("W", "b"))
        wrt += [W, b]
        f = lambda: torch.addmm(b, x.reshape(x.shape[0], -1), W)  # noqa: E731
    elif case.layer == "relu":
        f = lambda: TF.relu(x)  # noqa: E731
    else:
        t = torch.from_numpy(a["t"]).long()
        f = lambda: TF.cross_entropy(x, t)  # noqa: E731
    dout = torch.from_numpy(np.asarray(a["dout"]))
    y = f()

    def bwd() -> Any:
        return torch.autograd.grad(y, wrt, dout, retain_graph=True)

    def both() -> Any:
        return torch.autograd.grad(f(), wrt, dout)

    return Side(f, bwd, both)


def net_inputs(shape: BenchShape) -> dict[str, np.ndarray]:
    """A training batch for a network shape: x (normal) and integer labels t in [0, 10)."""
    rng = np.random.default_rng(shape.case.seed)
    x = rng.standard_normal(shape.case.x_shape).astype(shape.case.np_dtype)
    return {"x": x, "t": rng.integers(0, 10, size=shape.case.N)}


def impl_net_side(mod: ModuleType, shape: BenchShape, a: dict[str, np.ndarray]) -> Side:
    """`mod`'s network (e.g. impl.SimpleConvNet, seed 0) at the shape's dtype: forward is
    the loss; fwd+bwd a training step, gradient() then an in-place SGD update. Like the
    PyTorch twin (whose input does not require grad), it computes no gradient for the
    batch: a first layer with ``need_dx`` gets it set to False."""
    cls = getattr(mod, shape.net, None)
    if cls is None:
        return Side(error=f"{mod.__name__} has no {shape.net}")
    x, t = a["x"], a["t"]
    try:
        net = cls(input_dim=x.shape[1:], rng=0, dtype=x.dtype)
        # the batch needs no gradient: PyTorch computes none, the first layer is told so
        first = next(iter(net.layers.values()))
        if hasattr(first, "need_dx"):
            first.need_dx = False
        lr = x.dtype.type(LEARNING_RATE)

        def step() -> Any:
            grads = net.gradient(x, t)
            for k, g in grads.items():
                p = net.params[k]
                p -= lr * g
            return grads

        step()  # runs once here so a broken network is reported, not timed
    except Exception as e:
        return Side(error=f"{type(e).__name__}: {e}")
    # nets with dropout or batch norm: the forward of a training step, in training mode
    modal = "train_flg" in inspect.signature(net.loss).parameters
    return Side(forward=(lambda: net.loss(x, t, train_flg=True)) if modal
                else (lambda: net.loss(x, t)), both=step)


def torch_net_side(mod: ModuleType, shape: BenchShape, a: dict[str, np.ndarray]) -> Side:
    """The PyTorch twin (reference.convnet.twin) of `mod`'s network, same weights and dtype,
    in training mode (dropout as nn.Dropout): forward is the loss (graph built, as in
    training); fwd+bwd zero_grad, loss, backward and torch.optim.SGD's step."""
    from layercheck.reference.convnet import twin

    cls = getattr(mod, shape.net, None)
    if cls is None:
        return Side(error=f"{mod.__name__} has no {shape.net}")
    try:
        model = twin(cls(input_dim=a["x"].shape[1:], rng=0, dtype=a["x"].dtype))[0]
    except Exception as e:
        return Side(error=f"no PyTorch twin: {type(e).__name__}: {e}")
    for i, m in enumerate(model):  # dropout with PyTorch's own masks, not the twin's
        if type(m).__name__ == "InjectedDropout":
            model[i] = torch.nn.Dropout(m.ratio)
    model = model.to(torch.from_numpy(a["x"][:0]).dtype).train()
    x, t = torch.from_numpy(a["x"]), torch.from_numpy(a["t"]).long()
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

    def loss() -> torch.Tensor:
        return TF.cross_entropy(model(x), t)

    def step() -> Any:
        opt.zero_grad()
        out = loss()
        out.backward()
        opt.step()
        return out

    return Side(forward=loss, both=step)


# --- the timing loop ---------------------------------------------------------------------

def _calls_per_block(fn: Callable[[], Any], min_block_s: float) -> int:
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, math.ceil(min_block_s / one))


def time_interleaved(fns: Sequence[Callable[[], Any] | None], repeats: int,
                     min_block_s: float = 0.02, warmup: int = 2,
                     settle_before: Sequence[int] = (), settle_s: float = 0.25,
                     progress: Callable[[str], None] | None = None,
                     clock: Callable[[], float] = time.perf_counter) -> list[list[float]]:
    """Per-call seconds of each callable: `repeats` samples each, in rounds.

    Each round times one block of every callable in turn; a block is as many calls as
    take about `min_block_s`. A None callable gets an empty list. Garbage collection is
    off while timing, as in timeit; `progress` hears "round i/n" before each round.
    Before the callables at `settle_before` the loop sleeps `settle_s`, so thread pools
    left spinning by the previous group (OpenBLAS keeps its workers busy-waiting for about
    0.1 s after a product) go idle and do not take a core from the next group.
    `clock`: wall time by default; time.thread_time counts only this thread's CPU time
    (other processes' load then does not count, nor does work on other threads).
    """
    live = [(i, f) for i, f in enumerate(fns) if f is not None]
    for _, f in live:
        for _ in range(warmup):
            f()
    number = {i: _calls_per_block(f, min_block_s) for i, f in live}
    samples: list[list[float]] = [[] for _ in fns]
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            if progress:
                progress(f"round {r + 1}/{repeats}")
            for i, f in live:
                if i in settle_before:
                    time.sleep(settle_s)
                n = number[i]
                t0 = clock()
                for _ in range(n):
                    f()
                samples[i].append((clock() - t0) / n)
    finally:
        if gc_was:
            gc.enable()
    return samples


def _stats(samples: list[float]) -> tuple[float, float, float]:
    """(median, interquartile range, minimum); NaN for no samples."""
    if not samples:
        return math.nan, math.nan, math.nan
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    return float(med), float(q3 - q1), float(min(samples))


def conv_flops(case: Case) -> int:
    """Multiply-adds ×2 of a convolution forward (bias left out)."""
    shape = output_shape(case)
    if shape is None:
        return 0
    N, F, OH, OW = shape
    kh, kw = case.kernel
    return 2 * N * F * OH * OW * (case.C // case.groups) * kh * kw


def matmul_peak(dtype: str, n: int = 1024, repeats: int = 5,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """GFLOP/s of a square np.matmul of size n at `dtype`, from its fastest block: this
    machine's practical peak (the fastest block is the one least disturbed by other work)."""
    rng = np.random.default_rng(0)
    dt = {"f32": np.float32, "f64": np.float64}[dtype]
    a, b = (rng.standard_normal((n, n)).astype(dt) for _ in range(2))
    (samples,) = time_interleaved([lambda: a @ b], repeats, min_block_s=0.05, warmup=1,
                                  clock=clock)
    return 2 * n**3 / _stats(samples)[2] / 1e9


def conv_memory(mod: ModuleType, case: Case) -> dict[str, Any]:
    """tracemalloc peak of one forward+backward of `mod`'s Convolution, in MiB.

    Reported next to the size of the column matrix plus the output, and their ratio.
    """
    a = make_inputs(case)
    shape = output_shape(case)
    item = np.dtype(case.np_dtype).itemsize
    kh, kw = case.kernel
    N, F, OH, OW = shape or (0, 0, 0, 0)
    col_out = (N * OH * OW * case.C * kh * kw + N * F * OH * OW) * item  # every group's
    row: dict[str, Any] = {"shape": case.id, "dtype": case.dtype,
                           "col_plus_out_mib": col_out / 2**20}
    cls = getattr(mod, "Convolution", None)
    if cls is None:
        return {**row, "peak_mib": None, "ratio": None, "error": "no Convolution"}
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        layer = cls(a["W"], a["b"], case.stride[0], case.pad[0],
                    **({"groups": case.groups} if case.groups != 1 else {}))
        layer.forward(a["x"])
        layer.backward(a["dout"])
        peak = tracemalloc.get_traced_memory()[1] - base
        del layer
    except Exception as e:
        return {**row, "peak_mib": None, "ratio": None, "error": f"{type(e).__name__}: {e}"}
    finally:
        tracemalloc.stop()
    return {**row, "peak_mib": peak / 2**20, "ratio": peak / col_out if col_out else None}


# --- the whole benchmark -----------------------------------------------------------------

def geomean(values: Sequence[float]) -> float:
    """Geometric mean of the finite positive values; NaN when there are none."""
    v = [x for x in values if x is not None and np.isfinite(x) and x > 0]
    return float(np.exp(np.mean(np.log(v)))) if v else math.nan


@dataclass
class Bench:
    """Everything one benchmark run measured; renderers and the CLI read it.

    `times` has one row per shape, phase and side: shape (BenchShape.key), layer, dtype,
    phase, side, median_ms, iqr_ms, min_ms, repeats. `peaks` maps dtype to matmul GFLOP/s.
    `memory` rows: shape, dtype, peak_mib, col_plus_out_mib, ratio.
    """

    shapes: list[BenchShape]
    threads: int
    repeats: int
    times: pd.DataFrame
    peaks: dict[str, float] = field(default_factory=dict)
    memory: pd.DataFrame = field(default_factory=pd.DataFrame)
    threads_seen: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    clock: str = "wall"  # or "cpu": this thread's CPU time (threads=1)

    def ratios(self) -> pd.DataFrame:
        """One row per shape and phase: impl_ms, torch_ms (medians), ratio = impl/PyTorch,
        and ratio_min, the ratio of the fastest samples (steadier on a busy machine)."""
        if self.times.empty:
            return pd.DataFrame(columns=["shape", "layer", "dtype", "phase", "impl_ms",
                                         "torch_ms", "ratio", "ratio_min"])
        idx = ["shape", "layer", "dtype", "phase"]
        order = pd.MultiIndex.from_frame(self.times[idx].drop_duplicates())

        def wide(col: str) -> pd.DataFrame:
            w = self.times.set_index([*idx, "side"])[col].unstack("side")
            return w.reindex(index=order, columns=list(SIDES))

        med, low = wide("median_ms"), wide("min_ms")
        t = med.rename(columns={"impl": "impl_ms", "PyTorch": "torch_ms"})
        t["ratio"] = med["impl"] / med["PyTorch"]
        t["ratio_min"] = low["impl"] / low["PyTorch"]
        return t.reset_index()

    def geomeans(self) -> pd.DataFrame:
        """Geometric-mean fwd+bwd ratio per layer and dtype, and per layer over both dtypes."""
        r = self.ratios()
        r = r[r["phase"] == "fwd+bwd"]
        rows = []
        for layer in dict.fromkeys(r["layer"]):
            sub = r[r["layer"] == layer]
            for dt in dict.fromkeys(sub["dtype"]):
                vals = sub[sub["dtype"] == dt]["ratio"]
                rows.append({"layer": layer, "dtype": dt, "shapes": len(vals),
                             "geomean_ratio": geomean(list(vals))})
            if sub["dtype"].nunique() > 1:
                rows.append({"layer": layer, "dtype": "all", "shapes": len(sub),
                             "geomean_ratio": geomean(list(sub["ratio"]))})
        return pd.DataFrame(rows, columns=["layer", "dtype", "shapes", "geomean_ratio"])

    def layer_geomeans(self) -> dict[str, float]:
        """Geometric-mean fwd+bwd ratio impl/PyTorch per layer, all dtypes together."""
        r = self.ratios()
        r = r[r["phase"] == "fwd+bwd"]
        return {layer: geomean(list(r[r["layer"] == layer]["ratio"]))
                for layer in dict.fromkeys(r["layer"])}

    def gflops(self) -> pd.DataFrame:
        """Conv fwd+bwd GFLOP/s of each side (3× the forward flops) and impl's share of peak."""
        rows = []
        r = self.ratios()
        r = r[(r["phase"] == "fwd+bwd") & (r["layer"] == "conv")]
        flops = {s.key: 3 * conv_flops(s.case) for s in self.shapes if s.layer == "conv"}
        for _, row in r.iterrows():
            f = flops.get(row["shape"], 0)
            impl_g = f / row["impl_ms"] / 1e6 if row["impl_ms"] > 0 else math.nan
            torch_g = f / row["torch_ms"] / 1e6 if row["torch_ms"] > 0 else math.nan
            peak = self.peaks.get(row["dtype"], math.nan)
            rows.append({"shape": row["shape"], "dtype": row["dtype"], "gflop": f / 1e9,
                         "impl_gflops": impl_g, "torch_gflops": torch_g,
                         "matmul_peak_gflops": peak, "impl_share_of_peak": impl_g / peak})
        return pd.DataFrame(rows, columns=["shape", "dtype", "gflop", "impl_gflops",
                                           "torch_gflops", "matmul_peak_gflops",
                                           "impl_share_of_peak"])

    def goals(self) -> list[dict[str, Any]]:
        """The issue-15 goals present in this run: label, value, limit, met (True/False/None).

        "worst" goals take the largest ratio over their shapes (unknown when one is
        missing); the others the geometric mean."""
        r = self.ratios()
        out = []
        for label, layer, dt, phase, how, limit in SPEED_GOALS:
            sel = r[(r["layer"] == layer) & (r["phase"] == phase)
                    & ((r["dtype"] == dt) if dt else True)]["ratio"]
            if sel.empty:
                continue
            vals = [v for v in sel if v is not None and np.isfinite(v)]
            if how == "worst":
                v = max(vals) if len(vals) == len(sel) else math.nan  # any untimed: unknown
            else:
                v = geomean(vals)
            out.append({"goal": f"{label} impl/PyTorch", "value": v, "limit": limit,
                        "met": bool(v <= limit) if np.isfinite(v) else None})
        if not self.memory.empty:
            vals = [v for v in self.memory["ratio"] if v is not None and np.isfinite(v)]
            v = max(vals) if vals else math.nan
            out.append({"goal": "conv fwd+bwd peak memory / (column matrix + output), worst",
                        "value": v, "limit": MEMORY_GOAL,
                        "met": bool(v <= MEMORY_GOAL) if np.isfinite(v) else None})
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (non-finite numbers are left to the JSON writer)."""
        return {
            "threads": self.threads, "repeats": self.repeats, "seconds": self.seconds,
            "clock": self.clock,
            "threads_seen": self.threads_seen, "notes": self.notes,
            "shapes": [{"key": s.key, "column": s.column, "layer": s.layer, "dtype": s.dtype,
                        "description": s.describe(), "id": s.case.id} for s in self.shapes],
            "times": self.times.to_dict(orient="records"),
            "ratios": self.ratios().to_dict(orient="records"),
            "geomeans": self.geomeans().to_dict(orient="records"),
            "layer_geomeans": self.layer_geomeans(),
            "gflops": self.gflops().to_dict(orient="records"),
            "matmul_peak_gflops": self.peaks,
            "memory": self.memory.to_dict(orient="records"),
            "goals": self.goals(),
        }


def _busy_note(*loads: float) -> str | None:
    """A warning when the 1-minute load average exceeded the cores (other work competed)."""
    cores = os.cpu_count() or 1
    worst = max(loads)
    if worst <= cores:
        return None
    return (f"1-minute load average reached {worst:.1f} on {cores} cores while timing: other "
            f"processes competed for the CPU, so these times and ratios are rough; rerun on "
            f"an idle machine for figures to quote")


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def run_bench(mod: ModuleType, shapes: Sequence[BenchShape] | None = None, threads: int = 2,
              repeats: int = 15, quick: bool = False,
              progress: Callable[[str], None] | None = None, clock: str = "wall") -> Bench:
    """Time `mod` (impl) against PyTorch on `shapes` (default: all), with fixed threads.

    Every cell (shape × phase × side) is timed once per round, round after round, so a
    passing burst of load on a shared machine spreads over all cells instead of spoiling
    a few. `progress` is called with "setup", then "round i/n", then "matmul peak …" and
    "memory". quick: fewer, shorter blocks and a small matmul, for tests; rough figures.
    clock "cpu": this thread's CPU time instead of wall time, which other processes on a
    busy machine do not inflate; only with threads=1, where it is all the work.
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got clock={clock!r}")
    if clock == "cpu" and threads != 1:
        raise ValueError(f"clock='cpu' counts this thread only: it needs threads=1, got "
                         f"threads={threads}")
    shapes = list(SHAPES if shapes is None else shapes)
    min_block = 0.002 if quick else 0.02
    say = progress or (lambda _: None)
    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    notes, mem, cells = [], [], []
    peaks: dict[str, float] = {}
    with fixed_threads(threads) as seen:
        say("setup")
        for shape in shapes:
            if shape.net:
                a = net_inputs(shape)
                sides = {"impl": impl_net_side(mod, shape, a),
                         "PyTorch": torch_net_side(mod, shape, a)}
            else:
                a = make_inputs(shape.case)
                sides = {"impl": impl_side(mod, shape.case, a),
                         "PyTorch": torch_side(shape.case, a)}
            if sides["PyTorch"].error:
                notes.append(f"{shape.key}: PyTorch not timed ({sides['PyTorch'].error})")
            if sides["impl"].error:
                notes.append(f"{shape.key}: impl not timed ({sides['impl'].error})")
            cells += [(shape, phase, side, sides[side].fn(phase))
                      for phase in PHASES for side in SIDES]
        # Each round times every impl cell, then every PyTorch cell, with a pause before
        # each side's cells of each layer: threads left spinning by one group never take a
        # core from the next (OpenBLAS after impl's convolutions slowed impl's pooling too).
        cells.sort(key=lambda c: SIDES.index(c[2]))
        groups = [(c[2], c[0].layer) for c in cells]
        first = [i for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]
        samples = time_interleaved([c[3] for c in cells], repeats, min_block,
                                   warmup=1 if quick else 2, progress=say,
                                   settle_before=first, settle_s=0.02 if quick else 0.25,
                                   clock=CLOCKS[clock])
        rows = []
        for (shape, phase, side, _), smp in zip(cells, samples, strict=True):
            med, iqr, low = _stats(smp)
            rows.append({"shape": shape.key, "layer": shape.layer, "dtype": shape.dtype,
                         "phase": phase, "side": side, "median_ms": med * 1e3,
                         "iqr_ms": iqr * 1e3, "min_ms": low * 1e3, "repeats": len(smp)})
        del cells, samples
        conv_shapes = [s for s in shapes if s.layer == "conv"]
        for dt in dict.fromkeys(s.dtype for s in conv_shapes):
            say(f"matmul peak {dt}")
            peaks[dt] = matmul_peak(dt, n=256 if quick else 1024, repeats=3 if quick else 7,
                                    clock=CLOCKS[clock])
        if conv_shapes:
            say("memory")
        for s in conv_shapes:
            m = conv_memory(mod, s.case)
            m["shape"] = s.key
            if m.get("error"):
                notes.append(f"memory {s.key}: {m['error']}")
            mem.append(m)
    busy = _busy_note(load_before, os.getloadavg()[0])
    if busy:
        notes.append(busy)
    times = pd.DataFrame(rows, columns=["shape", "layer", "dtype", "phase", "side",
                                        "median_ms", "iqr_ms", "min_ms", "repeats"])
    memory = pd.DataFrame(mem, columns=["shape", "dtype", "peak_mib", "col_plus_out_mib",
                                        "ratio"])
    return Bench(shapes, threads, repeats, times, peaks, memory, seen, notes,
                 time.perf_counter() - t_start, clock)
