"""The attack's configuration (Islam et al., ICCV 2021, Figures 4-6): profile + overrides ->
one validated frozen `AttackConfig`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import ChanposError
from ...models.padding import PADDING_MODES
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

__all__ = ["AttackConfig", "attack_config", "SEGMENTATION_SOURCES", "NO_PRETRAIN"]

SEGMENTATION_SOURCES = ("streets", "cityscapes")
NO_PRETRAIN = "none"


@dataclass(frozen=True)
class AttackConfig:
    """Everything an attack run needs, resolved from a profile and command-line overrides.

    `seeds`: one trained model per seed (the replicates of the verdicts); with `checkpoint`
    the one given model is attacked and the first seed only fixes the random draws.
    `pretrain`: a classification source the backbone is first trained on (as the paper's
    ImageNet-pretrained ResNet-50), or "none" (from scratch).
    """

    profile: str
    source: str
    model: str
    ns: tuple[int, ...]
    region_ns: tuple[int, ...]
    random_draws: int
    epochs: int
    batch_size: int
    lr: float
    seeds: tuple[int, ...] = (0,)
    image_size: tuple[int, int] | None = (64, 128)
    same_texture: bool = False
    mirror: float = 0.0
    scale: float = 1.0
    width: int = 16
    head_channels: int = 64
    output_stride: int = 16
    padding: str = "zeros"
    pretrained_backbone: bool = False
    pretrain: str = NO_PRETRAIN
    pretrain_epochs: int = 3
    pretrain_samples: int | None = None
    pretrain_lr: float = 0.002
    train_samples: int | None = None
    val_samples: int | None = None
    rank_samples: int | None = None
    rank_images: str | None = None
    rank_where: str | None = None
    eval_batch_size: int = 16
    optimizer: str = "adam"
    weight_decay: float = 0.0
    schedule: str = "cosine"
    flip_prob: float = 0.5
    crop_size: tuple[int, int] | None = None
    bn_batches: int = 8
    examples: int = 4
    data_root: str | None = None
    checkpoint: str | None = None
    num_workers: int = 0
    jobs: int = 1
    threads: int = 1
    trainer: TrainerOptions = field(default_factory=TrainerOptions)

    def model_kwargs(self, num_classes: int) -> dict[str, Any]:
        """Builder keyword arguments of `model` for `num_classes` classes."""
        kw: dict[str, Any] = {"num_classes": num_classes, "output_stride": self.output_stride,
                              "padding": self.padding}
        if self.model == "deeplabv3_small":
            kw.update(width=self.width, head_channels=self.head_channels)
        else:
            kw["pretrained_backbone"] = self.pretrained_backbone
        return kw

    def model_seeds(self) -> tuple[int, ...]:
        """The seeds of the attacked models (one when a checkpoint is given)."""
        return self.seeds[:1] if self.checkpoint else self.seeds


def attack_config(base: str | Mapping[str, Any] = "quick",
                  overrides: Mapping[str, Any] | None = None) -> AttackConfig:
    """Resolve a profile name (or saved settings) + overrides (None = keep) into a config."""
    over = dict(overrides or {})
    values = merge_settings("attack", base, over)
    if over.get("rank_images") is not None and over.get("rank_where") is None:
        values["rank_where"] = None  # a user's image list replaces the profile's selection
    for key in ("ns", "region_ns"):
        values[key] = sorted({int(n) for n in values[key]})
    values["ns"] = sorted(set(values["ns"]) | {0})  # N = 0: the unattacked baseline
    if isinstance(values.get("seeds"), int):
        values["seeds"] = [values["seeds"]]
    if str(values.get("rank_where", "")).lower() in ("all", "none"):
        values["rank_where"] = None  # explicit: rank on every ranking image
    if values.get("pretrain") is None:
        values["pretrain"] = NO_PRETRAIN
    for key in ("data_root", "checkpoint", "rank_images"):
        if values.get(key) is not None:
            values[key] = str(values[key])
    return build_config(AttackConfig, values, seed=(values.get("seeds") or [0])[0],
                        validate=_validate, count_cells=lambda c: len(c.model_seeds()),
                        what="attack")


def _validate(cfg: AttackConfig) -> None:
    from ...data import CLASSIFICATION_SOURCES
    from ...models.segmentation import OUTPUT_STRIDES, SEGMENTATION_MODELS

    check_names([cfg.source], SEGMENTATION_SOURCES, "source", "--source")
    check_names([cfg.model], SEGMENTATION_MODELS, "model", "--model")
    check_names([cfg.padding], PADDING_MODES, "padding", "--padding")
    check_names([cfg.output_stride], OUTPUT_STRIDES, "output stride", "--output-stride")
    check_names([cfg.optimizer], OPTIMIZERS, "optimizer", "the profile's optimizer")
    check_names([cfg.schedule], SCHEDULES, "schedule", "the profile's schedule")
    check_names([cfg.pretrain], (NO_PRETRAIN, *CLASSIFICATION_SOURCES()), "pretraining source",
                "--pretrain")
    if cfg.pretrain != NO_PRETRAIN and cfg.checkpoint is not None:
        raise ChanposError("--pretrain trains a model, --checkpoint attacks a trained one: give "
                           "one of them")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        raise ChanposError(f"--seeds needs distinct values, got {list(cfg.seeds)}")
    for s in cfg.seeds:
        check_seed("--seeds", s)
    for n in cfg.ns + cfg.region_ns:
        check_int("--ns/--region-ns", n, 0)
    check_int("--random-draws", cfg.random_draws, 2)
    for option, value in (("--epochs", cfg.epochs), ("--batch-size", cfg.batch_size),
                          ("--eval-batch-size", cfg.eval_batch_size), ("--width", cfg.width),
                          ("--head-channels", cfg.head_channels),
                          ("--pretrain-epochs", cfg.pretrain_epochs)):
        check_int(option, value)
    for option, value in (("--train-samples", cfg.train_samples),
                          ("--val-samples", cfg.val_samples), ("--rank-samples", cfg.rank_samples),
                          ("--pretrain-samples", cfg.pretrain_samples)):
        check_int(option, value, allow_none=True)
    check_number("--lr", cfg.lr)
    check_number("--pretrain-lr", cfg.pretrain_lr)
    check_number("--weight-decay", cfg.weight_decay, strict=False)
    check_number("--flip-prob", cfg.flip_prob, strict=False, maximum=1.0)
    check_int("--examples", cfg.examples, 0)
    check_int("--bn-batches", cfg.bn_batches, 0)
    check_int("--workers", cfg.num_workers, 0)
    check_data_root(cfg.data_root)
    if cfg.source == "streets":
        if cfg.image_size is None or len(cfg.image_size) != 2 or min(cfg.image_size) < 16:
            raise ChanposError(f"--image-size must be H,W of at least 16 px, got {cfg.image_size}")
        check_number("--mirror", cfg.mirror, strict=False, maximum=1.0)
    if cfg.rank_where is not None:
        if cfg.rank_images is not None:
            raise ChanposError("give either --rank-images or --rank-where, not both")
        if cfg.rank_where.count(":") != 1 or cfg.rank_where.split(":")[1] not in ("left", "right"):
            raise ChanposError("--rank-where takes CLASS:SIDE with SIDE left or right (e.g. "
                               f"person:left), got {cfg.rank_where!r}")
    if cfg.source == "cityscapes" and cfg.data_root is None:
        raise ChanposError("--source cityscapes needs --data-root (the folder with leftImg8bit/ "
                           "and gtFine/)")
