"""Table 1's settings (Islam et al., ICCV 2021): one frozen `Table1Config`, each field one
setting (flag, profile key, config.yaml key and results key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ChanposError
from ...names import BUILT_IN_SOURCES, PADDING_MODES, TASKS
from ...runs.compose import resolve
from ...runs.plateau import PlateauSettings
from ...runs.settings import setting
from ...runs.shared import RunSettings, finish_run_settings
from ...runs.validate import MAX_SEED, require_batches, require_data_root, require_distinct

__all__ = ["TABLE1_MODELS", "Table1Config", "table1_config", "VALID_MIN_CANVAS", "TILE"]

TABLE1_MODELS = ("gapnet", "permutenet")
# smallest square input the paper ResNet-18 + GAPNet head survives with unpadded convs
VALID_MIN_CANVAS = 251
TILE = 32  # every Table 1 source gives 32 px tiles
MAX_GRID = 64  # canvases of 2048 px: the paper's largest grid is 7 (224 px)
_SOURCES = ", ".join(BUILT_IN_SOURCES["classification"])


def _classification_sources() -> list[str]:
    from ...data import source_names

    return source_names("classification")


@dataclass(frozen=True, kw_only=True)
class Table1Config(PlateauSettings, RunSettings):
    """Everything a Table 1 run needs, resolved from a profile and command-line values."""

    source: str = setting(
        help=f"Image source of the tiles: {_SOURCES} (cifar* need --data-root).",
        choices=_classification_sources, what="source")
    models: tuple[str, ...] = setting(help="Heads to train: gapnet, permutenet.",
                                      choices=TABLE1_MODELS, what="model", metavar="LIST")
    paddings: tuple[str, ...] = setting(
        help=f"Paddings of the location task: {', '.join(PADDING_MODES)}.",
        choices=PADDING_MODES, what="padding", metavar="LIST")
    object_paddings: tuple[str, ...] = setting(
        help="Paddings of the object task.", choices=PADDING_MODES, what="padding",
        metavar="LIST")
    grid_sizes: tuple[int, ...] = setting(
        help=f"Grid sizes k (k x k cells) of the location task (2 <= k <= {MAX_GRID}: "
        f"canvases of at most {MAX_GRID * TILE} px).", minimum=2, maximum=MAX_GRID,
        metavar="LIST")
    object_grid_sizes: tuple[int, ...] = setting(
        help=f"Grid sizes of the object task (1 <= k <= {MAX_GRID}).", minimum=1,
        maximum=MAX_GRID, metavar="LIST")
    tasks: tuple[str, ...] = setting(help="Tasks: location (label = cell), object (label = "
                                     "class).", choices=TASKS, what="task", metavar="LIST")
    width: int = setting(help="ResNet-18 base width (64 = the paper).", minimum=1)
    batch_size: int = setting(help="Training batch size (48 = the paper).", minimum=1)
    location_lr: float = setting(help="Adam learning rate of the location task (paper: 1e-3).",
                                 minimum=0.0, strict=True)
    object_lr: float = setting(help="Adam learning rate of the object task (paper: 0.01).",
                               minimum=0.0, strict=True)
    location_train_samples: int | None = setting(
        help="Training tiles of the location task (a seeded class-balanced subset; all = "
        "every one).", minimum=1, none_word="all", metavar="N|all")
    object_train_samples: int | None = setting(
        help="Training tiles of the object task.", minimum=1, none_word="all",
        metavar="N|all")
    test_samples: int | None = setting(help="Test tiles (all = the whole test split).",
                                       minimum=1, none_word="all", metavar="N|all")
    object_patience: int | None = setting(
        None, help="The object task's plateau window (default: --patience): PermuteNet's "
        "validation accuracy is noisy and climbs slowly.", minimum=2, none_word="same",
        metavar="N|same")
    object_lr_drops: int | None = setting(
        None, help="The object task's --lr-drops (default: --lr-drops).", minimum=0,
        none_word="same", metavar="N|same")
    object_batch_size: int | None = setting(
        None, help="The object task's training batch size (default: --batch-size): more, "
        "smaller steps per epoch let PermuteNet reach its plateau in fewer epochs.",
        minimum=1, none_word="same", metavar="N|same")
    object_max_epochs: int | None = setting(
        None, help="The object task's --max-epochs (default: --max-epochs).", minimum=1,
        none_word="same", metavar="N|same")
    object_classes: int | None = setting(
        None, help="Classes of the object task: the tiles of the source's first N classes "
        "only (all = every class; chance 1/N). PermuteNet learns its order-free class code "
        "class by class, so fewer classes mean fewer steps (docs/calibration.md).", minimum=2,
        none_word="all", metavar="N|all")
    object_weight_average: float | None = setting(
        None, help="The object task's --weight-average (default: --weight-average).",
        minimum=0.0, maximum=0.9999, none_word="same", metavar="D|same")
    weight_average: float = setting(
        0.0, help="Validate and keep a moving average of the weights, updated after every "
        "step with this decay (e.g. 0.998; 0 = off, the last weights): removes most of the "
        "epoch-to-epoch wander of a model trained at a high constant learning rate, without "
        "lowering it.", minimum=0.0, maximum=0.9999)
    bn_batches: int = setting(
        help="Training batches used to re-estimate BatchNorm statistics after training "
        "(0 = off).", minimum=0)
    seeds: tuple[int, ...] = setting(
        help="Training seeds: every cell is trained once per seed (initial weights, data order, "
        "cells); the verdicts' replicates are seeds.", minimum=0, maximum=MAX_SEED,
        metavar="LIST")

    def lr(self, task: str) -> float:
        """The learning rate of `task`."""
        return self.location_lr if task == "location" else self.object_lr

    def task_batch_size(self, task: str) -> int:
        """The training batch size of `task`."""
        if task == "object" and self.object_batch_size is not None:
            return self.object_batch_size
        return self.batch_size

    def task_max_epochs(self, task: str) -> int:
        """The epoch maximum of `task`."""
        if task == "object" and self.object_max_epochs is not None:
            return self.object_max_epochs
        return self.max_epochs

    def task_weight_average(self, task: str) -> float:
        """The weight-average decay of `task` (0 = off)."""
        if task == "object" and self.object_weight_average is not None:
            return self.object_weight_average
        return self.weight_average

    def task_rule(self, task: str) -> str:
        """`task`'s plateau rule and epoch maximum in one sentence."""
        return self.stopping_rule(self.task_stopping(task), self.task_max_epochs(task))

    def task_stopping(self, task: str) -> Any:
        """The plateau rule of `task` (the object task may use its own window and drops)."""
        from dataclasses import replace as _replace

        rule = self.stopping()
        if task == "object":
            rule = _replace(rule, patience=self.object_patience or self.patience,
                            lr_drops=self.lr_drops if self.object_lr_drops is None
                            else self.object_lr_drops)
        return rule

    def train_samples(self, task: str) -> int | None:
        """The training tiles of `task`."""
        return self.location_train_samples if task == "location" else self.object_train_samples

    def cells(self) -> list[tuple[str, int, str, str, int]]:
        """(task, grid_size, padding, model, seed) for every cell, in table order."""
        out = []
        for task in self.tasks:
            paddings = self.paddings if task == "location" else self.object_paddings
            sizes = self.grid_sizes if task == "location" else self.object_grid_sizes
            for k in sizes:
                for pad in paddings:
                    for model in self.models:
                        out += [(task, k, pad, model, seed) for seed in self.seeds]
        return out


def table1_config(base: str | Mapping[str, Any] = "quick",
                  overrides: Mapping[str, Any] | None = None) -> Table1Config:
    """A profile name (or saved settings) + command-line values -> the config."""
    cfg = resolve(Table1Config, "table1", base, overrides)
    _validate(cfg)
    return finish_run_settings(cfg, len(cfg.cells()))


def _validate(cfg: Table1Config) -> None:
    for name in ("models", "paddings", "tasks", "grid_sizes", "seeds"):
        require_distinct(cfg, name)
    require_data_root(cfg.data_root, download=cfg.download)
    for task in cfg.tasks:
        n = cfg.train_samples(task)
        require_batches(n if n is not None else 2, cfg.task_batch_size(task), what="training",
                      samples_flag=f"--{task}-train-samples")
    for task, paddings, sizes in (("location", cfg.paddings, cfg.grid_sizes),
                                  ("object", cfg.object_paddings, cfg.object_grid_sizes)):
        if task in cfg.tasks and "valid" in paddings and min(sizes) * TILE < VALID_MIN_CANVAS:
            flag = "--grid-sizes" if task == "location" else "--object-grid-sizes"
            raise ChanposError(
                f"padding 'valid' shrinks feature maps: it needs canvases of at least "
                f"{VALID_MIN_CANVAS} px, but grid size {min(sizes)} of {TILE} px tiles gives "
                f"{min(sizes) * TILE} px; use {flag} {-(-VALID_MIN_CANVAS // TILE)} or larger")
