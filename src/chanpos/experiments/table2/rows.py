"""Table 2's typed rows: one per training run (Islam et al., ICCV 2021, Table 2)."""

from __future__ import annotations

from dataclasses import dataclass

from ...training.options import FitResult

__all__ = ["Table2Row", "cell_id"]


@dataclass(frozen=True)
class Table2Row:
    """One training run's result (the results.json row); `training` is how its training ended
    (validation top-1 % after every epoch)."""

    method: str
    source: str
    seed: int
    top1_pct: float
    consistency_pct: float
    max_shift: int
    shift_mode: str
    lam: float | None
    training: FitResult
    seconds: float

    def __post_init__(self) -> None:
        for name in ("top1_pct", "consistency_pct"):
            if not 0 <= getattr(self, name) <= 100:
                raise ValueError(f"{name} must be a percentage (0 to 100)")

    @property
    def key(self) -> str:
        """The run's id."""
        return cell_id(self.source, self.method, self.seed)


def cell_id(source: str, method: str, seed: int) -> str:
    """Stable folder name of one training run."""
    return f"{source}-{method.replace('+', '_')}-seed{seed}"
