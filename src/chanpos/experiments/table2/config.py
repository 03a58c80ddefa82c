"""Table 2's configuration: profile + overrides -> one validated frozen `Table2Config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import ChanposError
from ...models.backbones import BACKBONES
from ...ops.shifts import SHIFT_MODES, check_shift
from ...probes.invariance import shift_protocol
from ...training.options import OPTIMIZERS, SCHEDULES, TrainerOptions
from ..checks import (
    build_config,
    check_data_root,
    check_int,
    check_names,
    check_number,
    check_seed,
    merge_settings,
)

__all__ = ["MethodSpec", "TABLE2_METHODS", "FOLDER_SOURCES", "Table2Config", "table2_config"]


@dataclass(frozen=True)
class MethodSpec:
    """What a Table 2 method changes: the loss, the downsampling, the epoch multiplier."""

    augshift: bool
    antialias: bool
    epoch_factor: int


TABLE2_METHODS: dict[str, MethodSpec] = {
    "baseline": MethodSpec(augshift=False, antialias=False, epoch_factor=1),
    "augshift": MethodSpec(augshift=True, antialias=False, epoch_factor=1),
    "blurpool": MethodSpec(augshift=False, antialias=True, epoch_factor=1),
    "blurpool+augshift": MethodSpec(augshift=True, antialias=True, epoch_factor=1),
    "baseline-2x": MethodSpec(augshift=False, antialias=False, epoch_factor=2),
}
# sources streamed from an ImageNet-style folder (everything else is an in-memory ImageSet)
FOLDER_SOURCES = ("imagenet",)


@dataclass(frozen=True)
class Table2Config:
    """Everything a Table 2 run needs, resolved from a profile and command-line overrides."""

    profile: str
    sources: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    backbone: str
    width: int
    epochs: int
    batch_size: int
    train_samples: int | None
    test_samples: int | None
    optimizer: str
    lr: float
    weight_decay: float
    schedule: str
    lam: float
    max_shift: int
    shift_mode: str
    pairs: int
    blur_size: int
    bn_batches: int
    flip: bool = True
    eval_seed: int = 0
    data_root: str | None = None
    download: bool = False
    num_workers: int = 0
    jobs: int = 1
    threads: int = 1
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def cells(self) -> list[tuple[str, str, int]]:
        """(source, method, seed) for every training run, in table order."""
        return [(s, m, seed) for s in self.sources for m in self.methods for seed in self.seeds]

    def epochs_of(self, method: str) -> int:
        """Training epochs of `method` (baseline-2x trains twice as long)."""
        return self.epochs * TABLE2_METHODS[method].epoch_factor

    def backbone_of(self, source: str) -> str:
        """`auto` = the paper stem for 32 px data, torchvision's ResNet-18 for ImageNet folders."""
        if self.backbone != "auto":
            return self.backbone
        return "resnet18" if source in FOLDER_SOURCES else "paper_resnet18"

    def protocol(self) -> str:
        """The shift protocol of the consistency test, as one sentence."""
        return shift_protocol(self.max_shift, self.shift_mode, self.pairs, self.eval_seed)


def table2_config(base: str | Mapping[str, Any] = "quick",
                  overrides: Mapping[str, Any] | None = None) -> Table2Config:
    """Resolve a profile name (or saved settings) + overrides (None = keep) into a config."""
    over = dict(overrides or {})
    if "lam" in over:  # the profile spells it `lambda`; an override must win over it
        over["lambda"] = over.pop("lam")
    values = merge_settings("table2", base, over)
    if "lambda" in values:
        values["lam"] = values.pop("lambda")
    for key in ("sources", "methods", "seeds"):
        if isinstance(values.get(key), (str, int)):
            values[key] = [values[key]]
    return build_config(Table2Config, values, seed=0, validate=_validate,
                        count_cells=lambda c: len(c.cells()), what="table2")


def _validate(cfg: Table2Config) -> None:
    from ...data import CLASSIFICATION_SOURCES

    check_names(cfg.methods, TABLE2_METHODS, "method", "--methods")
    check_names(cfg.sources, (*CLASSIFICATION_SOURCES(), *FOLDER_SOURCES), "source", "--source")
    check_names([cfg.shift_mode], SHIFT_MODES, "shift mode", "--shift-mode")
    check_int("--max-shift", cfg.max_shift, 0)
    check_shift(cfg.max_shift, cfg.shift_mode)
    check_number("--lambda", cfg.lam, strict=False)
    check_names([cfg.backbone], (*BACKBONES, "auto"), "backbone", "the profile's backbone")
    check_names([cfg.optimizer], OPTIMIZERS, "optimizer", "the profile's optimizer")
    check_names([cfg.schedule], SCHEDULES, "schedule", "the profile's schedule")
    if not cfg.sources or not cfg.methods or not cfg.seeds:
        raise ChanposError("--source, --methods and --seeds each need at least one value")
    if len(set(cfg.seeds)) != len(cfg.seeds):
        raise ChanposError(f"--seeds has duplicates: {', '.join(map(str, cfg.seeds))}")
    for s in cfg.seeds:
        check_seed("--seeds", s)
    for option, value in (("--width", cfg.width), ("--batch-size", cfg.batch_size),
                          ("--epochs", cfg.epochs), ("--pairs", cfg.pairs)):
        check_int(option, value)
    check_int("--blur-size", cfg.blur_size, 2)
    check_number("--lr", cfg.lr)
    check_number("--weight-decay", cfg.weight_decay, strict=False)
    check_int("--bn-batches", cfg.bn_batches, 0)
    check_int("--workers", cfg.num_workers, 0)
    check_int("--train-samples", cfg.train_samples, allow_none=True)
    check_int("--test-samples", cfg.test_samples, allow_none=True)
    check_data_root(cfg.data_root)
