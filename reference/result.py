"""The `Result` record: one case, one output, one verdict. Every report reads these."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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
    diagnosis: str = ""
    params: dict[str, object] = field(default_factory=dict)
    variant: str = ""  # which of the layer's implementations ran: "" (the main one) or "fast"

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def row(self) -> dict[str, object]:
        """Flat dict: the result's fields, then the case parameters as columns."""
        d = asdict(self)
        params = d.pop("params")
        if d["worst_index"] is not None:
            d["worst_index"] = str(tuple(d["worst_index"]))
        return {**d, **{k: v for k, v in params.items() if k not in d}}

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
