"""The layer registry: one frozen record (`Unit`) per graded unit, like PyTorch's OpInfo.

Every table of names, defaults and points elsewhere is derived from `UNITS`: the `--layers`
choices, class names and aliases, CS231n function pairs (with their ``*_fast`` variants and
how those are reported), outputs, grids, adapters, the layers graded by default, and points.
Add a unit here and it shows up everywhere; nothing else lists layers by hand.

Standard library only: the sandboxed worker imports it, and so does the command line's
argument parsing (which must not pull in numpy).

Points: every layer is worth 10 points, 5 for its forward phase (the output or the loss)
and 5 for its backward phase (the gradients). Read them with `points(layer, phase)`;
`max_points(layers)` is the maximum of a set of layers. The layers graded by default are
`default_layers(api)` (each curriculum's classic layers: conv, pool, affine, relu, softmax).

Queries: `unit(name)` gives a record; `names()`, `default_layers(api)`, `layers_for(api)`,
`class_names()`, `function_names()`, `aliases()`, `all_names()` the tables; `windowed()`,
`pooling()`, `weighted()`, `losses()`, `norms()`, `batch_norms()`, `dropouts()`, `flat()`,
`family(name)` and `where(**attrs)` the sets of layers that share a trait. Each is a method
of `Registry` too, so `REGISTRY.with_unit(unit)` derives them all for one more unit.

Units are layers (``kind="layer"``), whole networks (``kind="net"``: phases 'loss', the
scores and the loss, and 'grad', every parameter's gradient) and optimizers
(``kind="optimizer"``: phase 'update', the parameters and state after each step). The layer
queries above (`names()` by default, `class_names()`, `function_names()`, `default_layers()`,
...) list layers only; `names(None)` is every unit (the `--layers` choices), `units_of(kind)`
the records of one kind and `unit_names()` the class or function names networks and optimizers
are called by. Networks and optimizers are never graded by default: only when `--layers`
names them. Each is worth 10 points (a net: 5 'loss' + 5 'grad'; an optimizer: 10 'update').
"""

from __future__ import annotations

from dataclasses import dataclass

PHASES = ("forward", "backward")
APIS = ("class", "functional")
KINDS = ("layer", "net", "optimizer")  # kinds of unit
FAMILIES = ("core", "curricula")  # the classic layers, and the curricula's other layers
# What a layer does: "map" is shape-preserving and parameter-free (relu, sigmoid, lrn);
# "pool" is max or average pooling; "norm" takes gamma and beta; "loss" ends in a scalar.
ROLES = ("conv", "pool", "affine", "map", "loss", "norm", "dropout", "net", "optimizer")
GRIDS = ("windowed", "dense", "curricula")  # which generator in cases/grids.py makes its cases
# The grids of networks and optimizers: cases/net_cases.grid and cases/optim_cases.grid.
UNIT_GRIDS = ("nets", "optim")
# Outputs judged in the forward phase; every other output is a gradient (backward).
FORWARD_OUTPUTS = ("out", "loss", "running_mean", "running_var", "keep")
POINTS = (("forward", 5.0), ("backward", 5.0))  # per phase; 10 per layer
NET_POINTS = (("loss", 5.0), ("grad", 5.0))  # a network: scores and loss; every gradient
OPTIMIZER_POINTS = (("update", 10.0),)  # an optimizer: every value after every step
# The functions that run a unit, per adapter key and API ("module:function"). The adapters
# stay numpy-only (they run inside the sandbox), so the registry names them, not imports them.
ADAPTERS = {
    "core": {"class": "layercheck.cases.adapters:run_core_class",
             "functional": "layercheck.cases.functional:run_core_functional"},
    "curricula": {"class": "layercheck.cases.curricula:run_class",
                  "functional": "layercheck.cases.curricula:run_functional"},
    # networks and optimizers: the notes' classes under "class", CS231n's under "functional"
    "nets": {"class": "layercheck.cases.net_cases:run_book",
             "functional": "layercheck.cases.net_cases:run_cs231n"},
    "optim": {"class": "layercheck.cases.optim_cases:run_book",
              "functional": "layercheck.cases.optim_cases:run_cs231n"},
}


@dataclass(frozen=True)
class Functions:
    """One (forward, backward) pair of CS231n's functional API."""

    forward: str
    backward: str | None  # None: forward returns (loss, dx) itself (the losses)
    variant: str = ""  # "" for the main pair, else its name ("fast"): Result.variant

    @property
    def names(self) -> tuple[str, ...]:
        """The pair's function names (backward left out where there is none)."""
        return (self.forward,) if self.backward is None else (self.forward, self.backward)

    def label(self, layer: str) -> str:
        """How results of this pair are reported: 'conv', or 'conv (fast)' for a variant."""
        return f"{layer} ({self.variant})" if self.variant else layer


@dataclass(frozen=True)
class Unit:
    """Everything the engine knows about one graded unit (today: a layer)."""

    name: str  # the --layers name, and Case.layer
    class_name: str  # the class the class API's adapter calls (the notes', or impl/'s own)
    role: str  # one of ROLES: what kind of layer it is (see the queries below)
    grid: str  # one of GRIDS
    kinds: tuple[str, ...]  # input kinds of its cases (cases/inputs.py draws them)
    outputs: tuple[str, ...]  # everything judged on a training case with a bias, in order
    functions: tuple[Functions, ...] = ()  # CS231n pairs, the main one first; () = none
    aliases: tuple[str, ...] = ()  # accepted class spellings, as names.normal() writes them
    family: str = "core"  # one of FAMILIES
    adapter: str = "core"  # key into ADAPTERS
    student_class: bool = True  # a student may be graded on it under the class API
    default: bool = False  # graded when --layers is not given
    params: tuple[str, ...] = ()  # learnable parameters handed in (W, b; gamma, beta)
    flat: bool = False  # x is (N, C) rather than (N, C, H, W)
    train_only: tuple[str, ...] = ()  # outputs judged only on a training-mode case
    test_forward_only: bool = False  # a student's test-mode case is judged on forward only
    eps: float | None = None  # the curriculum's eps where a case sets none (normalizations)
    points: tuple[tuple[str, float], ...] = POINTS  # (phase, points) pairs
    kind: str = "layer"  # one of KINDS
    # networks and optimizers: (api, name) pairs, the class or function a student defines
    # under each API it is graded in ("class": the notes'; "functional": CS231n's)
    called: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        grids = GRIDS if self.kind == "layer" else UNIT_GRIDS
        for value, allowed in ((self.role, ROLES), (self.grid, grids), (self.kind, KINDS),
                               (self.family, FAMILIES), (self.adapter, tuple(ADAPTERS))):
            if value not in allowed:
                raise ValueError(f"{self.name}: {value!r} is not one of {allowed}")
        if (self.kind == "layer") == bool(self.called) or any(
                a not in APIS for a, _ in self.called):
            raise ValueError(f"{self.name}: networks and optimizers (only) name what they "
                             f"call per API in `called` (one of {APIS})")

    @property
    def phases(self) -> tuple[str, ...]:
        """The phases the unit is graded in (the keys of its points)."""
        return tuple(p for p, _ in self.points)

    def apis(self) -> tuple[str, ...]:
        """The APIs a student may be graded on it under."""
        if self.called:
            return tuple(dict.fromkeys(a for a, _ in self.called))
        return tuple(a for a, ok in (("class", self.student_class),
                                     ("functional", bool(self.functions))) if ok)

    def adapter_ref(self, api: str) -> str | None:
        """'module:function' that runs the unit's cases in the API, None where it has none
        (impl/'s class API runs every unit, so 'class' always has one)."""
        if (api == "functional" and not self.functions and not self.called) or (
                self.called and api not in self.apis()):
            return None
        return ADAPTERS[self.adapter][api]

    def called_names(self, api: str) -> tuple[str, ...]:
        """The names a case of the unit calls in the API (its class; its main pair)."""
        if self.called:
            return tuple(n for a, n in self.called if a == api)
        return (self.class_name,) if api == "class" else self.functions[0].names

    def variant(self, name: str) -> Functions | None:
        """The functional pair of the named variant ("" = the main one), or None."""
        return next((f for f in self.functions if f.variant == name), None)

    @property
    def student_input_kinds(self) -> tuple[str, ...]:
        """Input kinds of the student grid: NaN inputs are left to the conformance grids."""
        return tuple(k for k in self.kinds if k != "nan")

    @property
    def has_weights(self) -> bool:
        """Whether the unit takes a weight matrix W and bias b (conv, affine)."""
        return "W" in self.params


_NORM_OUT = ("out", "dx", "dgamma", "dbeta")
_STATS = ("running_mean", "running_var")
# CS231n's batchnorm_backward_alt: the simplified backward, asked to run faster than the
# staged one; reported as batch norm's "fast" variant like conv's and pool's *_fast pairs.
_BN_FUNCTIONS = (Functions("batchnorm_forward", "batchnorm_backward"),
                 Functions("batchnorm_forward", "batchnorm_backward_alt", "fast"))

UNITS: tuple[Unit, ...] = (
    Unit("conv", "Convolution", "conv", "windowed", ("normal",), ("out", "dx", "dW", "db"),
         (Functions("conv_forward_naive", "conv_backward_naive"),
          Functions("conv_forward_fast", "conv_backward_fast", "fast")),
         ("convolution", "conv", "conv2d", "convolution2d", "convolutional"),
         default=True, params=("W", "b")),
    Unit("pool", "Pooling", "pool", "windowed", ("normal", "ties", "negative", "nan"),
         ("out", "dx"),
         (Functions("max_pool_forward_naive", "max_pool_backward_naive"),
          Functions("max_pool_forward_fast", "max_pool_backward_fast", "fast")),
         ("pooling", "maxpooling", "maxpool", "maxpool2d", "maxpooling2d", "pool"),
         default=True),
    Unit("avgpool", "AvgPooling", "pool", "windowed", ("normal", "negative"), ("out", "dx"),
         aliases=("avgpooling", "avgpool", "avgpool2d", "averagepooling", "averagepool",
                  "averagepool2d", "averagepooling2d", "meanpooling")),
    Unit("affine", "Affine", "affine", "dense", ("normal",), ("out", "dx", "dW", "db"),
         (Functions("affine_forward", "affine_backward"),), ("affine", "fullyconnected"),
         default=True, params=("W", "b")),
    Unit("relu", "Relu", "map", "dense", ("normal", "ties"), ("out", "dx"),
         (Functions("relu_forward", "relu_backward"),), ("relu",), default=True),
    Unit("softmax", "SoftmaxWithLoss", "loss", "dense", ("normal", "onehot", "large"),
         ("loss", "dx"), (Functions("softmax_loss", None),),
         ("softmaxwithloss", "softmaxloss", "softmaxcrossentropy",
          "softmaxwithcrossentropy", "softmaxcrossentropyloss"),
         default=True, flat=True),
    # The curricula's other layers: the notes' and CS231n's extras, and AlexNet's LRN.
    # impl/ defines all their classes; students are graded on the notes' three under the
    # class API (Sigmoid, BatchNormalization, Dropout), on CS231n's functions otherwise.
    Unit("sigmoid", "Sigmoid", "map", "curricula", ("normal", "wide"), ("out", "dx"),
         aliases=("sigmoid",), family="curricula", adapter="curricula"),
    Unit("batchnorm", "BatchNormalization", "norm", "curricula", ("normal", "shifted"),
         (*_NORM_OUT, *_STATS), _BN_FUNCTIONS, ("batchnormalization", "batchnorm"),
         family="curricula", adapter="curricula", params=("gamma", "beta"),
         test_forward_only=True, eps=10e-7),  # the notes hard-code 10e-7
    Unit("spatialbn", "SpatialBatchNormalization", "norm", "curricula",
         ("normal", "shifted"), (*_NORM_OUT, *_STATS),
         (Functions("spatial_batchnorm_forward", "spatial_batchnorm_backward"),),
         family="curricula", adapter="curricula", student_class=False,
         params=("gamma", "beta"), test_forward_only=True, eps=1e-5),
    Unit("layernorm", "LayerNormalization", "norm", "curricula", ("normal", "shifted"),
         _NORM_OUT, (Functions("layernorm_forward", "layernorm_backward"),),
         family="curricula", adapter="curricula", student_class=False,
         params=("gamma", "beta"), flat=True, eps=1e-5),
    Unit("groupnorm", "GroupNormalization", "norm", "curricula", ("normal", "shifted"),
         _NORM_OUT,
         (Functions("spatial_groupnorm_forward", "spatial_groupnorm_backward"),),
         family="curricula", adapter="curricula", student_class=False,
         params=("gamma", "beta"), eps=1e-5),
    Unit("dropout", "Dropout", "dropout", "curricula", ("normal",), ("out", "dx", "keep"),
         aliases=("dropout",), family="curricula", adapter="curricula",
         train_only=("dx", "keep")),  # the notes' dropout_ratio drops
    Unit("invdropout", "InvertedDropout", "dropout", "curricula", ("normal",),
         ("out", "dx", "keep"), (Functions("dropout_forward", "dropout_backward"),),
         family="curricula", adapter="curricula", student_class=False,
         train_only=("keep",)),  # CS231n's p keeps
    Unit("lrn", "LRN", "map", "curricula", ("normal", "wide"), ("out", "dx"),
         family="curricula", adapter="curricula", student_class=False),
    Unit("svm", "SVMLoss", "loss", "curricula", ("normal",), ("loss", "dx"),
         (Functions("svm_loss", None),), family="curricula", adapter="curricula",
         student_class=False, flat=True),
)


def _net(name: str, class_name: str, *called: tuple[str, str]) -> Unit:
    """A whole network: judged by its scores, loss and every gradient."""
    return Unit(name, class_name, "net", "nets", (), ("scores", "loss", "grads"),
                family="curricula", adapter="nets", student_class=False,
                points=NET_POINTS, kind="net", called=called)


def _optimizer(name: str, class_name: str, *called: tuple[str, str]) -> Unit:
    """An update rule: judged by the parameters (and CS231n's config) after each step."""
    return Unit(name, class_name, "optimizer", "optim", (), ("params", "state"),
                family="curricula", adapter="optim", student_class=False,
                points=OPTIMIZER_POINTS, kind="optimizer", called=called)


# Networks and optimizers: graded only when --layers names them. `class_name` is the
# notes' class where there is one, else CS231n's; `called` what each API's student defines.
UNITS += (
    _net("simpleconvnet", "SimpleConvNet", ("class", "SimpleConvNet")),
    _net("twolayernet", "TwoLayerNet", ("class", "TwoLayerNet"), ("functional", "TwoLayerNet")),
    _net("multilayernet", "MultiLayerNet", ("class", "MultiLayerNet"),
         ("class", "MultiLayerNetExtend")),
    _net("fcnet", "FullyConnectedNet", ("functional", "FullyConnectedNet")),
    _net("convnet3", "ThreeLayerConvNet", ("functional", "ThreeLayerConvNet")),
    _optimizer("sgd", "SGD", ("class", "SGD"), ("functional", "sgd")),
    _optimizer("momentum", "Momentum", ("class", "Momentum"), ("functional", "sgd_momentum")),
    _optimizer("nesterov", "Nesterov", ("class", "Nesterov")),
    _optimizer("adagrad", "AdaGrad", ("class", "AdaGrad")),
    _optimizer("rmsprop", "RMSprop", ("class", "RMSprop"), ("functional", "rmsprop")),
    _optimizer("adam", "Adam", ("class", "Adam"), ("functional", "adam")),
)


class Registry:
    """Queries over a tuple of units; `REGISTRY` holds `UNITS`. Every derived table is a
    method here, so a copy with another unit (`with_unit`) derives all of them anew."""

    def __init__(self, units: tuple[Unit, ...]) -> None:
        names = [u.name for u in units]
        if len(set(names)) != len(names):
            raise ValueError(f"unit names must be unique, got {names}")
        self.units = units
        self._by_name = {u.name: u for u in units}
        self.layers = tuple(u for u in units if u.kind == "layer")

    def with_unit(self, unit: Unit) -> Registry:
        """A copy holding one more unit (tests; a course's own unit)."""
        return Registry((*self.units, unit))

    def unit(self, name: str) -> Unit:
        """The unit of that name (KeyError naming the known ones otherwise)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown layer {name!r}; known: {', '.join(self._by_name)}") \
                from None

    def names(self, kind: str | None = "layer") -> tuple[str, ...]:
        """The --layers names, registry order (every kind when `kind` is None)."""
        return tuple(u.name for u in self.units if kind is None or u.kind == kind)

    def units_of(self, kind: str) -> tuple[Unit, ...]:
        """The records of one kind ("layer", "net", "optimizer"), registry order."""
        return tuple(u for u in self.units if u.kind == kind)

    def unit_names(self, api: str | None = None) -> dict[str, str]:
        """{class or function name: unit} of the networks and optimizers (one API's, or
        every API's with None): the names a submission defines for them."""
        return {n: u.name for u in self.units for a, n in u.called if api in (None, a)}

    def where(self, **attrs: object) -> tuple[str, ...]:
        """Names of the units whose attributes equal `attrs`, e.g. where(role="norm")."""
        return tuple(u.name for u in self.layers
                     if all(getattr(u, k) == v for k, v in attrs.items()))

    def with_role(self, *roles: str) -> tuple[str, ...]:
        return tuple(u.name for u in self.layers if u.role in roles)

    def windowed(self) -> tuple[str, ...]:
        """Layers sliding a window over H and W: conv, pool, avgpool."""
        return self.with_role("conv", "pool")

    def pooling(self) -> tuple[str, ...]:
        return self.with_role("pool")

    def weighted(self) -> tuple[str, ...]:
        """Layers taking W and b (their outputs include dW, db): conv, affine."""
        return tuple(u.name for u in self.layers if u.has_weights)

    def losses(self) -> tuple[str, ...]:
        """Terminal losses: forward returns a scalar loss, dx is judged at dout = 1."""
        return self.with_role("loss")

    def norms(self) -> tuple[str, ...]:
        return self.with_role("norm")

    def batch_norms(self) -> tuple[str, ...]:
        """Normalizations with running statistics and a train/test mode."""
        return tuple(u.name for u in self.layers if u.role == "norm" and u.test_forward_only)

    def dropouts(self) -> tuple[str, ...]:
        return self.with_role("dropout")

    def flat(self) -> tuple[str, ...]:
        """Layers whose x is (N, C)."""
        return self.where(flat=True)

    def family(self, name: str) -> tuple[str, ...]:
        """The layers of a family: "core" or "curricula"."""
        return self.where(family=name)

    def default_eps(self) -> dict[str, float]:
        return {u.name: u.eps for u in self.layers if u.eps is not None}

    def input_kinds(self) -> dict[str, tuple[str, ...]]:
        return {u.name: u.kinds for u in self.layers}

    # --- names of the two APIs -----------------------------------------------------------

    def class_names(self, students: bool = True) -> dict[str, str]:
        """{layer: class name}: those a student is graded on, or (students=False) impl/'s all."""
        return {u.name: u.class_name for u in self.layers if u.student_class or not students}

    def function_names(self) -> dict[str, tuple[tuple[str, str | None], ...]]:
        """{layer: ((forward, backward), ...)}, the main pair first (CS231n's API)."""
        return {u.name: tuple((f.forward, f.backward) for f in u.functions)
                for u in self.layers if u.functions}

    def aliases(self) -> dict[str, tuple[str, ...]]:
        """{layer: accepted class spellings} (as cases/submission/names.normal writes them)."""
        return {u.name: u.aliases for u in self.layers if u.aliases}

    def all_names(self) -> tuple[str, ...]:
        """Every name an adapter calls, either API: the classes, then the functions."""
        fns = (n for u in self.layers for f in u.functions for n in f.names)
        return tuple(dict.fromkeys((*self.class_names().values(), *fns)))

    def layers_for(self, api: str) -> tuple[str, ...]:
        """The layers a student may be graded on under the API."""
        return tuple(u.name for u in self.layers if api in u.apis())

    def default_layers(self, api: str) -> tuple[str, ...]:
        """The layers graded when --layers is not given, under the API."""
        return tuple(u.name for u in self.layers if u.default and api in u.apis())

    # --- points --------------------------------------------------------------------------

    def points(self, layer: str, phase: str) -> float:
        """The points of one layer's phase (0 for a phase the layer is not graded in)."""
        return dict(self.unit(layer).points).get(phase, 0.0)

    def max_points(self, layers: tuple[str, ...] | list[str]) -> float:
        """The most a submission can score over the layers (every phase of each)."""
        return sum(p for name in dict.fromkeys(layers) for _, p in self.unit(name).points)


def phase_of(output: str) -> str:
    """The phase an output is judged in: forward for outputs and state, else backward."""
    return "forward" if output in FORWARD_OUTPUTS else "backward"


REGISTRY = Registry(UNITS)


# Module-level queries onto the one registry, `REGISTRY` (looked up on each call, so a
# process may install a copy with more units before importing the modules that derive
# their tables from it).
def unit(name: str) -> Unit:
    return REGISTRY.unit(name)


def names(kind: str | None = "layer") -> tuple[str, ...]:
    return REGISTRY.names(kind)


def where(**attrs: object) -> tuple[str, ...]:
    return REGISTRY.where(**attrs)


def units_of(kind: str) -> tuple[Unit, ...]:
    return REGISTRY.units_of(kind)


def unit_names(api: str | None = None) -> dict[str, str]:
    return REGISTRY.unit_names(api)


def with_role(*roles: str) -> tuple[str, ...]:
    return REGISTRY.with_role(*roles)


def windowed() -> tuple[str, ...]:
    return REGISTRY.windowed()


def pooling() -> tuple[str, ...]:
    return REGISTRY.pooling()


def weighted() -> tuple[str, ...]:
    return REGISTRY.weighted()


def losses() -> tuple[str, ...]:
    return REGISTRY.losses()


def norms() -> tuple[str, ...]:
    return REGISTRY.norms()


def batch_norms() -> tuple[str, ...]:
    return REGISTRY.batch_norms()


def dropouts() -> tuple[str, ...]:
    return REGISTRY.dropouts()


def flat() -> tuple[str, ...]:
    return REGISTRY.flat()


def family(name: str) -> tuple[str, ...]:
    return REGISTRY.family(name)


def default_eps() -> dict[str, float]:
    return REGISTRY.default_eps()


def input_kinds() -> dict[str, tuple[str, ...]]:
    return REGISTRY.input_kinds()


def class_names(students: bool = True) -> dict[str, str]:
    return REGISTRY.class_names(students)


def function_names() -> dict[str, tuple[tuple[str, str | None], ...]]:
    return REGISTRY.function_names()


def aliases() -> dict[str, tuple[str, ...]]:
    return REGISTRY.aliases()


def all_names() -> tuple[str, ...]:
    return REGISTRY.all_names()


def layers_for(api: str) -> tuple[str, ...]:
    return REGISTRY.layers_for(api)


def default_layers(api: str) -> tuple[str, ...]:
    return REGISTRY.default_layers(api)


def points(layer: str, phase: str) -> float:
    """The points of one layer's phase (see the module's docstring)."""
    return REGISTRY.points(layer, phase)


def max_points(layers: tuple[str, ...] | list[str]) -> float:
    return REGISTRY.max_points(layers)
