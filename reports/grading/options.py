"""Grading options (`GradingOptions`, one typed object) and argument types shared by the
subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from layercheck.cases import registry

# the --layers choices: layers, networks, optimizers (the registry imports only the stdlib)
LAYERS = registry.names(None)
DTYPES = ("f32", "f64")


def csv_of(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """argparse type: a comma-separated subset of `allowed`."""
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [t for t in items if t not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad) or 'empty list'}; choose from {', '.join(allowed)}")
        return items
    return parse


APIS = ("class", "functional")
SECRET_ENV = "LAYERCHECK_SECRET"  # the course's secret for `layercheck check` (never a flag)


@dataclass(frozen=True)
class GradingOptions(Mapping[str, Any]):
    """How a submission is graded: one typed object, built once (from the command line,
    `layercheck.check_file`'s arguments, or an autograder.json) and handed unchanged to
    every path that grades (one process, a pool, Dask, the autograder).

    `api`: the course's API ("class" or "functional"); None: detected, and a file offering
    both APIs is graded on both (the worse score stands). `hidden_share` and
    `hidden_patterns` choose the hidden cases (see layercheck.reports.grading.scoring).
    `secret`: the course's secret (empty: this machine's own; "public": the public ids): the
    cases' arrays are drawn from it, hidden cases afresh for each submission
    (layercheck.reports.grading.draws), so they cannot be predicted from the public tool;
    it is never shown. `each` and `climb` are the intake's
    (which files a submission's copy holds); the rest are `check_submission`'s. It reads
    as a mapping of its fields too (`dict(options)`), for callers written against the
    older dict of options.
    """

    layers: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] = ("f64",)
    api: str | None = None
    timeout: float = 5.0
    budget: float = 600.0
    allow_torch: bool = False
    do_shrink: bool = True
    file: str | None = None
    names: Mapping[str, str] | None = None
    unsafe_no_isolation: bool = False
    hidden_share: float = 0.0
    hidden_patterns: tuple[str, ...] = ()
    secret: str = field(default="", repr=False)
    each: tuple[str, ...] = ()
    climb: bool = True

    def __post_init__(self) -> None:
        if self.api is not None and self.api not in APIS:
            raise ValueError(f"unknown API {self.api!r}; choose from {', '.join(APIS)}")
        bad = [x for x in self.layers or () if x not in LAYERS]
        if bad:
            raise ValueError(f"unknown layer(s) {bad}; known: {', '.join(LAYERS)}")
        bad = [x for x in self.dtypes if x not in DTYPES]
        if bad or not self.dtypes:
            raise ValueError(f"unknown dtype(s) {bad}; choose from {', '.join(DTYPES)}")
        if not 0.0 <= self.hidden_share <= 1.0:
            raise ValueError(f"hidden share must be within [0, 1], got {self.hidden_share}")
        # tuples and a read-only map, whatever sequence or dict was given
        object.__setattr__(self, "layers", tuple(dict.fromkeys(self.layers))
                           if self.layers else None)
        object.__setattr__(self, "dtypes", tuple(self.dtypes))
        object.__setattr__(self, "hidden_patterns", tuple(self.hidden_patterns))
        object.__setattr__(self, "each", tuple(self.each))
        object.__setattr__(self, "names", MappingProxyType(dict(self.names))
                           if self.names else None)

    # --- a read-only mapping of the fields (older callers: dict(options), options.get) ---
    def __getitem__(self, key: str) -> Any:
        if key not in _FIELDS:
            raise KeyError(key)
        value = getattr(self, key)
        return dict(value) if isinstance(value, MappingProxyType) else value

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def __len__(self) -> int:
        return len(_FIELDS)

    def __hash__(self) -> int:
        return hash(tuple((k, v) for k, v in self.items() if not isinstance(v, dict)))

    def __reduce__(self) -> tuple:  # pickled for a process pool or a Dask worker
        return (_rebuild, (dict(self),))

    def replace(self, **changes: Any) -> GradingOptions:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def coerce(cls, options: GradingOptions | Mapping[str, Any] | None) -> GradingOptions:
        """`options` as GradingOptions (a mapping of field names is read by name; unknown
        names are refused)."""
        if isinstance(options, GradingOptions):
            return options
        data = dict(options or {})
        extra = set(data) - set(_FIELDS)
        if extra:
            raise TypeError(f"unknown grading option(s) {sorted(extra)}; known: {_FIELDS}")
        return cls(**data)

    def check_kwargs(self) -> dict[str, Any]:
        """check_submission's keyword arguments (all fields but the intake's)."""
        return {k: self[k] for k in _FIELDS if k not in ("each", "climb")}

    def to_config(self) -> dict[str, Any]:
        """The grading fields of an autograder.json (the intake's are the autograder's)."""
        return {"layers": list(self.layers) if self.layers else None,
                "dtypes": list(self.dtypes), "api": self.api, "timeout": self.timeout,
                "budget": self.budget, "allow_torch": self.allow_torch,
                "unsafe_no_isolation": self.unsafe_no_isolation, "secret": self.secret}

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> GradingOptions:
        """From an autograder.json: its grading fields and its "grading" object's hidden
        cases; never climbs above the submission folder (the grader's files are there)."""
        grading = cfg.get("grading") or {}
        return cls(layers=tuple(cfg["layers"]) if cfg.get("layers") else None,
                   dtypes=tuple(cfg.get("dtypes") or ("f64",)), api=cfg.get("api"),
                   timeout=float(cfg.get("timeout", 5.0)),
                   budget=float(cfg.get("budget", 600.0)),
                   allow_torch=bool(cfg.get("allow_torch", False)),
                   unsafe_no_isolation=bool(cfg.get("unsafe_no_isolation", False)),
                   hidden_share=float(grading.get("hidden_share", 0.0)),
                   hidden_patterns=tuple(grading.get("hidden_patterns", ())),
                   secret=str(cfg.get("secret") or ""), climb=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> GradingOptions:
        """From `layercheck check`'s parsed arguments."""
        names = {k: v for m in getattr(args, "name", None) or [] for k, v in m.items()}
        return cls(layers=args.layers, dtypes=tuple(args.dtype), api=args.api,
                   timeout=args.timeout, budget=args.budget, allow_torch=args.allow_torch,
                   do_shrink=not args.no_shrink, file=getattr(args, "file", None),
                   names=names or None,
                   unsafe_no_isolation=getattr(args, "unsafe_no_isolation", False),
                   secret=os.environ.get(SECRET_ENV, ""),
                   each=tuple(getattr(args, "each", None) or ()),
                   climb=not getattr(args, "no_climb", False))


_FIELDS = tuple(f.name for f in dataclasses.fields(GradingOptions))


def _rebuild(data: dict[str, Any]) -> GradingOptions:
    return GradingOptions(**data)
