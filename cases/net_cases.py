"""Network cases: a student's whole network at seeded parameters, judged by its loss and every
gradient (and, for CS231n, the scores of `loss(X)`).

Only numpy and the standard library are imported here: the adapters run inside the sandbox.
Networks covered so far (no dropout; batch norm in CS231n's FullyConnectedNet only):

- the notes' ``TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=0.01)``:
  ``params`` W1 (D, H), b1, W2 (H, C), b2; ``loss(x, t)``; ``gradient(x, t)`` -> dict.
  Its layers hold references to the params arrays, so values are set *in place*.
- the notes' ``SimpleConvNet(input_dim, conv_param, hidden_size, output_size,
  weight_init_std)``: conv - relu - pool(2x2, stride 2) - affine - relu - affine - softmax;
  ``params`` W1 (F, C, k, k), b1, W2 (F*ph*pw, H), b2, W3 (H, C), b3; set in place too.
- CS231n's ``TwoLayerNet(input_dim, hidden_dim, num_classes, weight_scale, reg)`` and
  ``FullyConnectedNet(hidden_dims, input_dim, num_classes, ..., reg, weight_scale, dtype)``:
  ``params`` W1.., b1..; ``loss(X)`` -> scores; ``loss(X, y)`` -> (loss, grads), with the L2
  term 0.5 * reg * sum(W**2) in the loss and reg * W in the grads. The model reads its
  params dict at every call, so values are set by assignment. With normalization='batchnorm'
  (``norm``), gamma<i>/beta<i> per hidden layer; loss(X) runs first, in test mode, on the
  first running statistics (mean 0, variance 1). With normalization='layernorm',
  affine - layernorm - relu: gamma<i>/beta<i> per hidden layer, each sample normalized over
  its features (eps 1e-5), no running statistics (loss(X) and loss(X, y) normalize alike).
- the notes' ``MultiLayerNet(input_size, hidden_size_list, output_size, ...,
  weight_decay_lambda)`` (or MultiLayerNetExtend, batch norm and dropout off): the same L2
  term as CS231n's reg; params set in place.
- CS231n's ``ThreeLayerConvNet(input_dim, num_filters, filter_size, hidden_dim,
  num_classes, weight_scale, reg, dtype)``: conv (stride 1, size kept) - relu - 2x2 pool -
  affine - relu - affine, the L2 term over W1..W3.
"""

from __future__ import annotations

import hashlib
import inspect
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

NETS = {("twolayernet", "book"): "TwoLayerNet", ("simpleconvnet", "book"): "SimpleConvNet",
        ("multilayernet", "book"): "MultiLayerNet",
        ("twolayernet", "cs231n"): "TwoLayerNet", ("fcnet", "cs231n"): "FullyConnectedNet",
        ("convnet3", "cs231n"): "ThreeLayerConvNet"}
# The notes' MultiLayerNetExtend, without batch norm or dropout, is a MultiLayerNet.
FALLBACK = {"MultiLayerNet": "MultiLayerNetExtend"}
CONV_NETS = ("simpleconvnet", "convnet3")  # conv - relu - 2x2 max pool - affine - ...
ONE_HIDDEN = ("twolayernet", *CONV_NETS)
NORMS = ("", "batchnorm", "layernorm")  # FullyConnectedNet's normalization (None is "")
# Nets with batch norm and dropout: CS231n's FullyConnectedNet, the notes' MultiLayerNetExtend
EXTENDED = ("fcnet", "multilayernet")
BN_EPS = {"cs231n": 1e-5, "book": 10e-7}  # batchnorm_forward's default; the notes' 10e-7
LN_EPS = 1e-5  # CS231n's layernorm_forward default (ln_param.get("eps", 1e-5))
# CS231n's dropout reseeds NumPy's global generator with the net's seed in every dropout
# layer, then keeps np.random.rand(*x.shape) < p: the masks are known from the seed. The
# notes' Dropout keeps np.random.rand(*x.shape) > dropout_ratio, layer after layer from one
# stream: the adapter seeds NumPy's generator with DROPOUT_SEED before loss and gradient.
DROPOUT_SEED = 231
DTYPES = {"f32": "float32", "f64": "float64"}


@dataclass(frozen=True)
class NetCase:
    """One network through one API: N samples of D features, hidden widths, C classes."""

    net: str
    api: str = "book"
    N: int = 4
    D: int = 5
    hidden: tuple[int, ...] = (6,)
    C: int = 3
    reg: float = 0.0
    dtype: str = "f64"
    image: tuple[int, int, int] = (1, 6, 6)  # simpleconvnet: input_dim (C, H, W)
    conv: tuple[int, int, int, int] = (3, 3, 0, 1)  # simpleconvnet: filters, size, pad, stride
    norm: str = ""  # "", "batchnorm" or (CS231n's fcnet) "layernorm"; eps 1e-5
    keep: float = 1.0  # fcnet: dropout's keep probability (1: no dropout), seed DROPOUT_SEED

    def __post_init__(self) -> None:
        if (self.net, self.api) not in NETS:
            raise ValueError(f"no {self.net!r} in the {self.api!r} API; known: {sorted(NETS)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {self.dtype!r}")
        if self.net in ONE_HIDDEN and len(self.hidden) != 1:
            raise ValueError(f"a {self.net} has one hidden layer, got hidden={self.hidden}")
        if self.api == "book" and ((self.reg and self.net != "multilayernet")
                                   or self.dtype != "f64"):
            raise ValueError("the notes' nets work in float64 (and only MultiLayerNet has a "
                             "weight decay)")
        if self.net == "convnet3" and (self.conv[3] != 1 or self.conv[2] != (self.conv[1] - 1)
                                       // 2):
            raise ValueError("ThreeLayerConvNet's convolution keeps the size: stride 1, "
                             "pad (filter_size - 1) // 2")
        if self.api == "cs231n" and self.net == "twolayernet" and self.dtype != "f64":
            raise ValueError("CS231n's TwoLayerNet has no dtype argument (float64)")
        if self.norm not in NORMS or (self.norm and self.net not in EXTENDED):
            raise ValueError(f"norm must be one of {NORMS} (for {EXTENDED}), got "
                             f"{self.norm!r} for {self.net}")
        if self.norm == "layernorm" and (self.net, self.api) != ("fcnet", "cs231n"):
            raise ValueError("layer norm is CS231n's FullyConnectedNet's only")
        if not 0 < self.keep <= 1 or (self.keep < 1 and self.net not in EXTENDED):
            raise ValueError(f"keep must be in (0, 1] (dropout, for {EXTENDED}), got "
                             f"{self.keep} for {self.net}")
        if min(self.N, self.D, self.C, *self.hidden) < 1:
            raise ValueError(f"sizes must be >= 1: {self}")

    @property
    def layer(self) -> str:
        return self.net

    @property
    def id(self) -> str:
        """Readable id, e.g. ``fcnet-cs231n-N4-D5-H6x5-C3-reg0.1-f32`` or
        ``simpleconvnet-book-N2-in1x6x6-F3k3p0s1-H5-C3-f64``."""
        parts = [self.net, self.api, f"N{self.N}"]
        if self.convolutional:
            F, k, p, s = self.conv
            parts += ["in" + "x".join(map(str, self.image)), f"F{F}k{k}p{p}s{s}"]
        else:
            parts.append(f"D{self.D}")
        parts += ["H" + "x".join(map(str, self.hidden)), f"C{self.C}"]
        if self.reg:
            parts.append(f"reg{self.reg:g}")
        if self.norm:
            parts.append(self.norm)
        if self.keep < 1:
            parts.append(f"keep{self.keep:g}")
        parts.append(self.dtype)
        return "-".join(parts)

    @property
    def seed(self) -> int:
        return int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:8], "little")

    @property
    def np_dtype(self) -> str:
        return DTYPES[self.dtype]

    @property
    def convolutional(self) -> bool:
        """Whether the net starts with conv - relu - pool (SimpleConvNet, ThreeLayerConvNet)."""
        return self.net in CONV_NETS

    @property
    def pooled(self) -> tuple[int, int, int]:
        """simpleconvnet: (F, ph, pw) after the convolution and the 2x2 pooling."""
        F, k, p, s = self.conv
        oh, ow = ((n + 2 * p - k) // s + 1 for n in self.image[1:])
        return F, oh // 2, ow // 2

    @property
    def widths(self) -> tuple[int, ...]:
        """Affine layers' widths (simpleconvnet: from the pooled features on)."""
        first = int(np.prod(self.pooled)) if self.convolutional else self.D
        return (first, *self.hidden, self.C)

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.N, *self.image) if self.convolutional else (self.N, self.D)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape, in layer order."""
        shapes: dict[str, tuple[int, ...]] = {}
        w, off = self.widths, 0
        if self.convolutional:
            F, k, _, _ = self.conv
            shapes.update({"W1": (F, self.image[0], k, k), "b1": (F,)})
            off = 1
        for i in range(1, len(w)):
            shapes[f"W{i + off}"] = (w[i - 1], w[i])
            shapes[f"b{i + off}"] = (w[i],)
            if self.norm and i < len(w) - 1:
                shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (w[i],)
        return shapes

    def param_names(self) -> list[str]:
        """W1, b1, W2, b2, ... in layer order."""
        return list(self.param_shapes())

    def params(self) -> dict[str, object]:
        return {"net": self.net, "api": self.api, "N": self.N, "D": self.D,
                "hidden": "x".join(map(str, self.hidden)), "C": self.C, "reg": self.reg,
                "norm": self.norm, "keep": self.keep, "dtype": self.dtype}

    def __str__(self) -> str:
        return self.id


@dataclass
class NetInputs:
    x: np.ndarray
    y: np.ndarray
    params: dict[str, np.ndarray]


def make_inputs(case: NetCase, seed: int | None = None) -> NetInputs:
    """x ~ N(0, 1), labels, weights ~ N(0, 1/fan_in) and biases ~ N(0, 0.1): every ReLU
    sees both signs, the scores are of order 1. Drawn in float64 from `seed` (default the
    case's own), rounded once."""
    rng = np.random.default_rng(case.seed if seed is None else seed)
    dt = case.np_dtype
    x = rng.standard_normal(case.x_shape).astype(dt)
    y = rng.integers(0, case.C, size=case.N)
    params = {}
    for k, shape in case.param_shapes().items():
        if k.startswith("W"):
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            params[k] = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dt)
        elif k.startswith("gamma"):
            params[k] = (1 + 0.1 * rng.standard_normal(shape)).astype(dt)
        else:
            params[k] = (0.1 * rng.standard_normal(shape)).astype(dt)
    return NetInputs(x, y, params)


@dataclass
class NetRun:
    """What the network returned (raw objects): loss, grads by name, CS231n's scores."""

    loss: Any = None
    grads: Any = None
    scores: Any = None
    error: str | None = None
    error_type: str | None = None
    error_phase: str | None = None  # construct | set | scores | loss | gradient
    traceback: str | None = None
    missing: bool = False
    seconds: float | None = None  # the run's own time (set by the grader's worker)
    notes: list[str] = field(default_factory=list)

    def record_error(self, phase: str, e: BaseException) -> None:
        self.error_phase, self.error_type = phase, type(e).__name__
        self.error = f"{type(e).__name__}: {e}"
        self.traceback = "".join(traceback.format_exception(e, limit=-16))


def _set_in_place(params: dict, values: dict[str, np.ndarray]) -> list[str]:
    """Write the case's values into the net's own arrays; the names that could not be."""
    bad = []
    for k, v in values.items():
        have = params.get(k)
        if not isinstance(have, np.ndarray) or have.shape != v.shape:
            bad.append(k)
            continue
        have[...] = v
    return bad


def _class(mod: ModuleType, case: NetCase) -> Any:
    name = NETS[(case.net, case.api)]
    if case.api == "book" and (case.norm or case.keep < 1):
        name = FALLBACK.get(name, name)  # MultiLayerNetExtend: batch norm, dropout
    found = getattr(mod, name, None)
    return found if found is not None or name not in FALLBACK else getattr(
        mod, FALLBACK[name], None)


def run_book(mod: ModuleType, case: NetCase, inputs: NetInputs) -> NetRun:
    """The notes' nets: construct, set params in place, loss(x, t), gradient(x, t)."""
    run = NetRun()
    cls = _class(mod, case)
    if cls is None:
        run.missing = True
        return run
    phase = "construct"
    try:
        if case.net == "simpleconvnet":
            F, k, p, s = case.conv
            net = cls(input_dim=case.image, hidden_size=case.hidden[0], output_size=case.C,
                      conv_param={"filter_num": F, "filter_size": k, "pad": p, "stride": s})
        elif case.net == "multilayernet" and (case.norm or case.keep < 1):
            net = cls(input_size=case.D, hidden_size_list=list(case.hidden),
                      output_size=case.C, weight_decay_lambda=case.reg,
                      use_batchnorm=bool(case.norm), use_dropout=case.keep < 1,
                      dropout_ration=1 - case.keep)
        elif case.net == "multilayernet":
            net = cls(input_size=case.D, hidden_size_list=list(case.hidden),
                      output_size=case.C, weight_decay_lambda=case.reg)
        else:
            net = cls(input_size=case.D, hidden_size=case.hidden[0], output_size=case.C)
        phase = "set"
        bad = _set_in_place(net.params, inputs.params)
        if bad:
            raise ValueError(f"params {bad} missing or of another shape than expected")
        phase = "loss"
        x, t = inputs.x.copy(), inputs.y.copy()
        extended = case.norm or case.keep < 1
        if extended:  # the training loss; the same masks again in gradient (one seed)
            np.random.seed(DROPOUT_SEED)  # noqa: NPY002 (the notes draw from the global one)
        loss = net.loss(x, t, train_flg=True) if extended else net.loss(x, t)
        run.loss = loss.copy() if isinstance(loss, np.ndarray) else loss
        phase = "gradient"
        if extended:
            np.random.seed(DROPOUT_SEED)  # noqa: NPY002 (the notes draw from the global one)
        run.grads = net.gradient(x, t)
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    return run


def _dropout_arguments(cls: Any, keep: float) -> dict[str, Any]:
    """The constructor's dropout arguments: the newer dropout_keep_ratio=p, or the older
    dropout= (a keep probability where its default is 1, a drop probability where it is 0)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    if "dropout" in params and "dropout_keep_ratio" not in params:
        drop = params["dropout"].default == 0
        return {"dropout": 1 - keep if drop else keep, "seed": DROPOUT_SEED}
    return {"dropout_keep_ratio": keep, "seed": DROPOUT_SEED}


def dropout_masks(case: NetCase) -> list[np.ndarray]:
    """The keep masks the curriculum's dropout draws in each hidden layer (DROPOUT_SEED)."""
    out = []
    rng = np.random.RandomState(DROPOUT_SEED)
    for h in case.hidden:
        if case.api == "cs231n":  # reseeded in every layer
            out.append(np.random.RandomState(DROPOUT_SEED).rand(case.N, h) < case.keep)
        else:  # one stream, layer after layer
            out.append(rng.rand(case.N, h) > 1 - case.keep)
    return out


def run_cs231n(mod: ModuleType, case: NetCase, inputs: NetInputs) -> NetRun:
    """CS231n's nets: construct, assign params, loss(X) for scores, loss(X, y)."""
    run = NetRun()
    cls = _class(mod, case)
    if cls is None:
        run.missing = True
        return run
    phase = "construct"
    try:
        if case.net == "convnet3":
            F, k, _, _ = case.conv
            model = cls(input_dim=case.image, num_filters=F, filter_size=k,
                        hidden_dim=case.hidden[0], num_classes=case.C, reg=case.reg,
                        dtype=np.dtype(case.np_dtype).type)
        elif case.net == "twolayernet":
            model = cls(input_dim=case.D, hidden_dim=case.hidden[0], num_classes=case.C,
                        reg=case.reg)
        else:
            kw: dict[str, Any] = {"input_dim": case.D, "num_classes": case.C, "reg": case.reg,
                                  "dtype": np.dtype(case.np_dtype).type}
            if case.norm:
                kw["normalization"] = case.norm
            if case.keep < 1:
                kw.update(_dropout_arguments(cls, case.keep))
            model = cls(list(case.hidden), **kw)
        phase = "set"
        names = case.param_names()
        extra = sorted(set(model.params) - set(names))
        if extra:
            run.notes.append(f"params beyond {names}: {extra}")
        for k, v in inputs.params.items():
            model.params[k] = v.copy()
        phase = "scores"
        scores = model.loss(inputs.x.copy())
        run.scores = scores.copy() if isinstance(scores, np.ndarray) else scores
        phase = "loss"
        out = model.loss(inputs.x.copy(), inputs.y.copy())
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise TypeError(f"loss(X, y) must return (loss, grads), got {type(out).__name__}")
        run.loss, run.grads = out
    except Exception as e:  # the implementation's own failure, reported as data
        run.record_error(phase, e)
    return run


def run(mod: ModuleType, case: NetCase, inputs: NetInputs | None = None) -> NetRun:
    inputs = make_inputs(case) if inputs is None else inputs
    return (run_book if case.api == "book" else run_cs231n)(mod, case, inputs)


def grid() -> list[NetCase]:
    """Small nets of both APIs (milliseconds each)."""
    return [
        NetCase("twolayernet", "book"),
        NetCase("twolayernet", "book", N=3, D=7, hidden=(4,), C=5),
        NetCase("twolayernet", "book", D=4, hidden=(4,), C=4),  # square: swapped grads show
        NetCase("simpleconvnet", "book", N=2, hidden=(5,)),
        NetCase("simpleconvnet", "book", N=2, hidden=(4,), C=4, image=(2, 8, 8),
                conv=(2, 3, 1, 1)),
        NetCase("twolayernet", "cs231n"),
        NetCase("twolayernet", "cs231n", reg=0.1),
        NetCase("fcnet", "cs231n", hidden=(6, 5)),
        NetCase("fcnet", "cs231n", hidden=(6, 5), reg=0.1),
        NetCase("fcnet", "cs231n", hidden=(6, 5), reg=0.1, dtype="f32"),
        NetCase("fcnet", "cs231n", hidden=(4,), dtype="f32"),
        NetCase("fcnet", "cs231n", N=3, hidden=(5, 4, 3), reg=0.05),
        NetCase("fcnet", "cs231n", D=5, hidden=(5, 5), C=5),  # square weights
        NetCase("fcnet", "cs231n", hidden=(6, 5), norm="batchnorm"),
        NetCase("fcnet", "cs231n", N=5, hidden=(4,), reg=0.1, norm="batchnorm"),
        NetCase("fcnet", "cs231n", hidden=(6, 5), norm="batchnorm", dtype="f32"),
        NetCase("fcnet", "cs231n", hidden=(6, 5), keep=0.6),
        NetCase("fcnet", "cs231n", hidden=(6, 5), norm="layernorm"),
        NetCase("fcnet", "cs231n", N=3, hidden=(4,), reg=0.1, norm="layernorm", dtype="f32"),
        NetCase("fcnet", "cs231n", N=5, hidden=(5, 4), reg=0.1, norm="batchnorm", keep=0.75),
        NetCase("multilayernet", "book", hidden=(6, 5)),
        NetCase("multilayernet", "book", hidden=(6, 5), reg=0.1),
        NetCase("multilayernet", "book", N=3, hidden=(4,), reg=0.05),
        NetCase("multilayernet", "book", hidden=(6, 5), norm="batchnorm"),
        NetCase("multilayernet", "book", hidden=(6, 5), keep=0.5),
        NetCase("multilayernet", "book", N=5, hidden=(5, 4), reg=0.1, norm="batchnorm",
                keep=0.75),
        NetCase("convnet3", "cs231n", N=2, hidden=(5,), conv=(3, 3, 1, 1)),
        NetCase("convnet3", "cs231n", N=2, hidden=(4,), reg=0.1, image=(2, 6, 6),
                conv=(2, 3, 1, 1)),
        NetCase("convnet3", "cs231n", N=2, hidden=(4,), dtype="f32", conv=(2, 3, 1, 1)),
    ]


# --- the worker's wire format ----------------------------------------------------------
# A network case travels as its fields; its run comes back as outputs named 'loss',
# 'scores' and 'grads:<name>' for each parameter the case has (or 'grads' itself when it is
# not a dict), plus notes (layercheck.cases.sandbox.replies holds every field to these).
ERROR_PHASES = ("construct", "set", "scores", "loss", "gradient")


def case_fields(case: NetCase) -> dict[str, Any]:
    """The case as plain fields (what `case_from_fields` reads back)."""
    return {"net": case.net, "api": case.api, "N": case.N, "D": case.D,
            "hidden": list(case.hidden), "C": case.C, "reg": case.reg, "dtype": case.dtype,
            "image": list(case.image), "conv": list(case.conv), "norm": case.norm,
            "keep": case.keep}


def case_from_fields(d: dict[str, Any]) -> NetCase:
    return NetCase(d["net"], d["api"], int(d["N"]), int(d["D"]),
                   tuple(int(h) for h in d["hidden"]), int(d["C"]), float(d["reg"]),
                   d["dtype"], tuple(int(i) for i in d["image"]),  # type: ignore[arg-type]
                   tuple(int(c) for c in d["conv"]), str(d["norm"]),  # type: ignore[arg-type]
                   float(d["keep"]))


def input_arrays(inputs: NetInputs) -> dict[str, Any]:
    return {"x": inputs.x, "y": inputs.y, "params": inputs.params}


def inputs_from_arrays(arrays: dict[str, Any]) -> NetInputs:
    return NetInputs(arrays["x"], arrays["y"], dict(arrays["params"]))


def output_names(case: NetCase) -> set[str]:
    """Every name a run of the case may send back."""
    return {"loss", "scores", "grads", *(f"grads:{k}" for k in case.param_names())}


def run_outputs(case: NetCase, run: NetRun) -> dict[str, Any]:
    """The run's values under their wire names: only the case's own parameters' gradients
    travel (a dict's other entries are never judged)."""
    out: dict[str, Any] = {"loss": run.loss}
    if case.api == "cs231n":
        out["scores"] = run.scores
    if isinstance(run.grads, dict):
        out.update({f"grads:{k}": run.grads[k] for k in case.param_names() if k in run.grads})
    elif run.grads is not None:
        out["grads"] = run.grads
    return out


def run_from_outputs(case: NetCase, outputs: dict[str, Any], gradient_ran: bool) -> NetRun:
    """A `NetRun` back from `run_outputs` (grads a dict when any gradient came back, or
    `gradient_ran` says the network's gradient returned a dict)."""
    run = NetRun(loss=outputs.get("loss"), scores=outputs.get("scores"))
    grads = {k: outputs[f"grads:{k}"] for k in case.param_names() if f"grads:{k}" in outputs}
    if "grads" in outputs:
        run.grads = outputs["grads"]
    elif grads or gradient_ran:
        run.grads = grads
    return run
