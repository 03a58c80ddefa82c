"""Table 1's configuration: profile + overrides -> one validated frozen `Table1Config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...data.grid import TASKS
from ...errors import ChanposError
from ...models.padding import PADDING_MODES
from ...training.options import TrainerOptions
from ..checks import (
    build_config,
    check_data_root,
    check_int,
    check_names,
    check_number,
    check_seed,
    merge_settings,
)

__all__ = ["TABLE1_MODELS", "TaskBudget", "Table1Config", "table1_config", "VALID_MIN_CANVAS"]

TABLE1_MODELS = ("gapnet", "permutenet")
# smallest square input the paper ResNet-18 + GAPNet head survives with unpadded convs
VALID_MIN_CANVAS = 251
TILE = 32  # every Table 1 source gives 32 px tiles


@dataclass(frozen=True)
class TaskBudget:
    """Training budget of one task: epochs, learning rate, training tiles (None = all)."""

    epochs: int
    lr: float
    train_samples: int | None


@dataclass(frozen=True)
class Table1Config:
    """Everything a Table 1 run needs, resolved from a profile and command-line overrides."""

    profile: str
    source: str
    models: tuple[str, ...]
    paddings: tuple[str, ...]
    object_paddings: tuple[str, ...]
    grid_sizes: tuple[int, ...]
    object_grid_sizes: tuple[int, ...]
    tasks: tuple[str, ...]
    width: int
    batch_size: int
    test_samples: int | None
    bn_batches: int
    location: TaskBudget
    object: TaskBudget
    seed: int = 0
    data_root: str | None = None
    download: bool = False
    num_workers: int = 0
    jobs: int = 1
    threads: int = 1
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def budget(self, task: str) -> TaskBudget:
        """The budget of `task`."""
        return self.location if task == "location" else self.object

    def cells(self) -> list[tuple[str, int, str, str]]:
        """(task, grid_size, padding, model) for every cell, in table order."""
        out = []
        for task in self.tasks:
            paddings = self.paddings if task == "location" else self.object_paddings
            sizes = self.grid_sizes if task == "location" else self.object_grid_sizes
            for k in sizes:
                for pad in paddings:
                    for model in self.models:
                        out.append((task, k, pad, model))
        return out


def table1_config(base: str | Mapping[str, Any] = "quick",
                  overrides: Mapping[str, Any] | None = None) -> Table1Config:
    """Resolve a profile name (or saved settings) + overrides (None = keep) into a config.

    Overrides `epochs`, `lr` and `train_samples` apply to both tasks; a `paddings` /
    `grid_sizes` override also narrows the object task's lists unless those are given too.
    """
    over = dict(overrides or {})
    task_over = {k: over.pop(k) for k in ("epochs", "lr", "train_samples") if k in over}
    values = merge_settings("table1", base, over)
    for task in TASKS:
        values[task] = {**values[task], **{k: v for k, v in task_over.items() if v is not None}}
    for key, obj_key in (("paddings", "object_paddings"), ("grid_sizes", "object_grid_sizes")):
        if over.get(key) is not None and over.get(obj_key) is None:
            values[obj_key] = [v for v in values[obj_key] if v in values[key]] or values[key][:1]
    values.setdefault("seed", 0)
    return build_config(Table1Config, values, seed=values["seed"], validate=_validate,
                        count_cells=lambda c: len(c.cells()), what="table1")


def _validate(cfg: Table1Config) -> None:
    check_names(cfg.models, TABLE1_MODELS, "model", "--models")
    check_names(cfg.paddings, PADDING_MODES, "padding", "--paddings")
    check_names(cfg.object_paddings, PADDING_MODES, "padding", "--object-paddings")
    check_names(cfg.tasks, TASKS, "task", "--tasks")
    from ...data import CLASSIFICATION_SOURCES

    check_names([cfg.source], CLASSIFICATION_SOURCES(), "source", "--source")
    for option, values in (("--models", cfg.models), ("--tasks", cfg.tasks)):
        if not values:
            raise ChanposError(f"{option} is empty")
    for k in cfg.grid_sizes:
        check_int("--grid-sizes", k, 2)  # a 1x1 grid has one cell: nothing to locate
    for k in cfg.object_grid_sizes:
        check_int("--object-grid-sizes", k, 1)
    check_int("--width", cfg.width)
    check_int("--batch-size", cfg.batch_size)
    check_int("--test-samples", cfg.test_samples, allow_none=True)
    check_int("--bn-batches", cfg.bn_batches, 0)
    check_int("--workers", cfg.num_workers, 0)
    check_seed("--seed", cfg.seed)
    check_data_root(cfg.data_root)
    for task in cfg.tasks:
        b = cfg.budget(task)
        check_int("--epochs", b.epochs)
        check_number("--lr", b.lr)
        check_int("--train-samples", b.train_samples, allow_none=True)
    for task, paddings, sizes in (("location", cfg.paddings, cfg.grid_sizes),
                                  ("object", cfg.object_paddings, cfg.object_grid_sizes)):
        if task in cfg.tasks and "valid" in paddings and min(sizes) * TILE < VALID_MIN_CANVAS:
            raise ChanposError(
                f"padding 'valid' shrinks feature maps: it needs canvases of at least "
                f"{VALID_MIN_CANVAS} px, but grid size {min(sizes)} of {TILE} px tiles gives "
                f"{min(sizes) * TILE} px; use --grid-sizes {-(-VALID_MIN_CANVAS // TILE)} or larger"
            )
