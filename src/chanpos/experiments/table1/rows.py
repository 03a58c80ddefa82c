"""Table 1's typed rows: one per trained cell (Islam et al., ICCV 2021, Table 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...training.options import FitResult

__all__ = ["Table1Row", "cell_id", "select"]


@dataclass(frozen=True)
class Table1Row:
    """One cell's result. `correct` holds one character per test canvas ('1' = right), in
    test-set order, so verdict intervals can pair GAPNet and PermuteNet canvas by canvas;
    `training` is how its training ended (validation accuracy % after every epoch)."""

    model: str
    padding: str
    grid_size: int
    task: str
    accuracy_pct: float
    chance_pct: float
    training: FitResult
    train_samples: int
    val_samples: int
    seconds: float
    seed: int
    lr: float
    correct: str

    def __post_init__(self) -> None:
        # a row read back from a folder must be one this code could have written
        if not self.correct or set(self.correct) - {"0", "1"}:
            raise ValueError("correct must be a string of 0s and 1s, one per test canvas")
        right = 100.0 * self.correct.count("1") / len(self.correct)
        if abs(right - self.accuracy_pct) > 0.01:
            raise ValueError(f"accuracy_pct {self.accuracy_pct} is not the {right:.2f} % its "
                             "correct canvases give")
        if not 0 < self.chance_pct <= 100:
            raise ValueError("chance_pct must be in (0, 100]")

    @property
    def key(self) -> str:
        """The cell's id."""
        return cell_id(self.task, self.grid_size, self.padding, self.model, self.seed)


def cell_id(task: str, k: int, padding: str, model: str, seed: int) -> str:
    """Stable folder name of one cell."""
    return f"{task}-k{k}-{padding}-{model}-seed{seed}"


def select(rows: list[Table1Row], **match: Any) -> list[Table1Row]:
    """The rows whose fields equal every `match` value (e.g. task="object", seed=0)."""
    return [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]
