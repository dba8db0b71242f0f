"""The `Result` record: one case, one output, one verdict. Every report reads these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from layercheck.reference.diagnosis import Diagnosis, causes, render

STATUSES = ("pass", "fail", "error", "timeout", "missing")
OUTPUTS = ("out", "loss", "dx", "dW", "db")


@dataclass
class Result:
    """Verdict for one output of one case."""

    id: str
    layer: str
    phase: str  # forward | backward
    output: str  # out | loss | dx | dW | db
    status: str  # pass | fail | error | timeout | missing
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    err_over_bound: float | None = None
    worst_index: tuple[int, ...] | None = None
    mismatched: int | None = None
    size: int | None = None
    diagnosis: str = ""  # the rendered words of `diagnoses` (set through `diagnose`)
    params: dict[str, object] = field(default_factory=dict)
    variant: str = ""  # which of the layer's implementations ran: "" (the main one) or "fast"
    diagnoses: tuple[Diagnosis, ...] = ()  # the findings as data; `diagnosis` renders them

    def __post_init__(self) -> None:
        if self.diagnoses and not self.diagnosis:
            self.diagnosis = render(self.diagnoses)

    def diagnose(self, diagnoses: Iterable[Diagnosis]) -> Result:
        """Set the findings and their rendered words together (the one way to set them)."""
        self.diagnoses = tuple(diagnoses)
        self.diagnosis = render(self.diagnoses)
        return self

    def add(self, *diagnoses: Diagnosis, first: bool = False) -> Result:
        """Add findings after (or, with `first`, before) the ones already there."""
        new = (*diagnoses, *self.diagnoses) if first else (*self.diagnoses, *diagnoses)
        return self.diagnose(new)

    @property
    def causes(self) -> tuple[str, ...]:
        """The confirmed cause codes (empty where no cause was confirmed)."""
        return causes(self.diagnoses)

    @property
    def codes(self) -> tuple[str, ...]:
        """Every diagnosis code, causes and facts."""
        return tuple(d.code for d in self.diagnoses)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def row(self) -> dict[str, object]:
        """Flat dict: the result's fields (the diagnoses as `causes`, the confirmed cause codes,
        and `codes`, every code, each space-separated), then the case parameters as columns."""
        d = {f.name: getattr(self, f.name) for f in fields(self)
             if f.name not in ("params", "diagnoses")}
        if d["worst_index"] is not None:
            d["worst_index"] = str(tuple(d["worst_index"]))
        d["causes"] = " ".join(self.causes)
        d["codes"] = " ".join(self.codes)
        return {**d, **{k: v for k, v in self.params.items() if k not in d}}

    def message(self) -> str:
        """One paragraph saying what failed, for a test failure or a terminal."""
        parts = [f"{self.id} {self.phase} {self.output}: {self.status}"]
        if self.err_over_bound is not None:
            parts.append(
                f"max_abs_err={self.max_abs_err:.3g} err_over_bound={self.err_over_bound:.3g}"
            )
        if self.mismatched:
            parts.append(
                f"{self.mismatched}/{self.size} elements "
                f"({100 * self.mismatched / max(self.size or 1, 1):.1f}%) outside the bound"
            )
        if self.diagnosis:
            parts.append(self.diagnosis)
        return "; ".join(parts)
