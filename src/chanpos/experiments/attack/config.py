"""The attack's settings (Islam et al., ICCV 2021, Figures 4-6): a frozen config dataclass,
each field one setting (flag, profile key, config.yaml key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ...errors import ChanposError
from ...names import (
    BUILT_IN_SOURCES,
    FLIPS,
    ONNX_PREFIX,
    OPTIMIZERS,
    OUTPUT_STRIDES,
    PADDING_MODES,
    SCHEDULES,
    SEGMENTATION_MODELS,
    is_network,
    network_subject,
)
from ...runs.compose import resolve
from ...runs.plateau import PlateauSettings
from ...runs.settings import setting
from ...runs.shared import RunSettings, finish_run_settings
from ...runs.validate import (
    MAX_SEED,
    require_batches,
    require_data_root,
    require_distinct,
    require_file,
)

__all__ = ["AttackConfig", "attack_config", "attack_real_config", "NO_PRETRAIN",
           "is_network", "TEXT_SOURCES"]

NO_PRETRAIN = "none"
_CLASSIFICATION = ", ".join(BUILT_IN_SOURCES["classification"])
TEXT_SOURCES = ("text", "icdar2015")  # the data a real text detector is attacked on




def _segmentation_sources() -> list[str]:
    from ...data import source_names

    return source_names("segmentation")


def _pretrain_sources() -> list[str]:
    from ...data import source_names

    return [NO_PRETRAIN, *source_names("classification")]


@dataclass(frozen=True, kw_only=True)
class AttackConfig(PlateauSettings, RunSettings):
    """Everything an attack run needs, resolved from a profile and command-line values.

    One trained model per seed (the replicates of the verdicts); with `checkpoint` the one
    given model is attacked and the first seed only fixes the random draws.
    """

    source: str = setting(help="Segmentation data: streets (built in, offline), cityscapes "
                          "(needs --data-root) or masks (your own: --data-root DIR with "
                          "classes.txt and train/ and val/, each images/ + masks/).",
                          choices=_segmentation_sources, what="source")
    model: str = setting(help=f"Segmentation model: {', '.join(SEGMENTATION_MODELS)} (trained "
                         "per seed, or given with --checkpoint); or a real pretrained network "
                         "attacked as it is: ppocr-det (PaddleOCR's text detector) or "
                         "onnx:PATH (any dense ONNX network; needs the extra 'real').",
                         metavar="NAME")
    layer: str | None = setting(
        None, help="The attacked layer (default: the head input of a chanpos or torchvision "
        "model, the backbone's deepest output of a real network; list them with chanpos "
        "layers --model M).", none_word="default", metavar="NAME")
    checkpoint: str | None = setting(
        None, help="Attack this trained model instead of training some: a chanpos model.pt, "
        "the authors' DeepLabV3Plus-Pytorch file or a torchvision state dict.", metavar="FILE")
    seeds: tuple[int, ...] = setting(
        help="Model seeds: one model is trained per seed (the verdicts' replicates); for a real "
        "network, one independent fold of images per seed (rank on the fold's ranking "
        "images, evaluate on its evaluation images).",
        minimum=0, maximum=MAX_SEED, metavar="LIST")
    image_size: tuple[int, int] | None = setting(
        None, help="streets, text and icdar2015 image size H,W (text and icdar2015: default "
        "the network's input size).", minimum=16, metavar="H,W")
    same_texture: bool = setting(False, help="streets: paint road and sidewalk alike (only "
                                 "position separates them).")
    mirror: float = setting(0.0, help="streets: fraction of mirrored (left-hand traffic) "
                            "scenes.", minimum=0.0, maximum=1.0)
    scale: float = setting(1.0, help="cityscapes: image scale in (0, 1].", minimum=0.0,
                           strict=True, maximum=1.0)
    width: int = setting(16, help="deeplabv3_small: first-stage width (C = 8 x width channels "
                         "at the head input).", minimum=1)
    head_channels: int = setting(64, help="deeplabv3_small: width of the ASPP head.",
                                 minimum=1)
    output_stride: int = setting(16, help="Output stride: 16 or 8.", choices=OUTPUT_STRIDES,
                                 what="output stride")
    padding: str = setting("zeros", help=f"Padding of every conv: {', '.join(PADDING_MODES)}.",
                           choices=PADDING_MODES, what="padding")
    pretrained_backbone: bool = setting(
        False, help="torchvision ResNets: start from ImageNet weights (downloads them: needs "
        "--download).")
    pretrain: str = setting(
        NO_PRETRAIN, help=f"Pretrain the backbone on this classification source first "
        f"({_CLASSIFICATION}), as the paper's ImageNet-pretrained ResNet-50; none = from "
        "scratch.", choices=_pretrain_sources, what="pretraining source")
    pretrain_max_epochs: int = setting(10, help="Pretraining: the most epochs (it stops at a "
                                       "validation plateau, as training does).", minimum=1)
    pretrain_samples: int | None = setting(None, help="Pretraining images (all = every one).",
                                           minimum=1, none_word="all", metavar="N|all")
    pretrain_val_samples: int = setting(500, help="Pretraining images held out as its "
                                        "validation split.", minimum=1)
    pretrain_lr: float = setting(0.002, help="Pretraining learning rate (Adam).", minimum=0.0,
                                 strict=True)
    train_samples: int | None = setting(None, help="Training images (all = every one).",
                                        minimum=1, none_word="all", metavar="N|all")
    eval_samples: int | None = setting(
        None, help="Evaluation images: the source's val split, where mIoU is measured and "
        "channels are ranked (all = every one).", minimum=1, none_word="all", metavar="N|all")
    importance_samples: int | None = setting(
        None, help="Held-out images (of --val-samples) the importance control is measured on: "
        "C + 1 head runs per image (all = every one).", minimum=1, none_word="all",
        metavar="N|all")
    rank_samples: int | None = setting(None, help="Rank on the first N evaluation images "
                                       "(all = every one).", minimum=1, none_word="all",
                                       metavar="N|all")
    rank_images: str | None = setting(
        None, help="Text file of evaluation image names for the signed (region) ranking, e.g. "
        "the authors' CityPerson.txt.", metavar="FILE")
    rank_where: str | None = setting(
        None, help="CLASS:SIDE, e.g. person:left: the signed ranking uses only evaluation "
        "images with that class mostly on that side (all = every ranking image).",
        none_word="all", metavar="CLASS:SIDE|all")
    batch_size: int = setting(help="Training batch size.", minimum=1)
    eval_batch_size: int = setting(16, help="Evaluation batch size.", minimum=1)
    optimizer: str = setting("adam", help="Optimiser.", choices=OPTIMIZERS, what="optimizer")
    lr: float = setting(help="Learning rate.", minimum=0.0, strict=True)
    weight_decay: float = setting(0.0, help="Weight decay.", minimum=0.0)
    schedule: str = setting("cosine", help="Learning-rate schedule over --max-epochs.",
                            choices=SCHEDULES, what="schedule")
    flip_prob: float = setting(0.5, help="Probability of a horizontal flip of a training "
                               "image (and its labels).", minimum=0.0, maximum=1.0)
    crop_size: tuple[int, int] | None = setting(None, help="Random training crops H,W (none = "
                                                "whole images).", minimum=1, none_word="none",
                                                metavar="H,W")
    bn_batches: int = setting(8, help="Training batches used to re-estimate BatchNorm "
                              "statistics after training (0 = off).", minimum=0)
    ns: tuple[int, ...] = setting(help="Channel counts N to zero (0, the unattacked model, is "
                                  "always added).", minimum=0, metavar="LIST")
    region_ns: tuple[int, ...] = setting(help="N of the left/right region attack.", minimum=1,
                                         metavar="LIST")
    random_draws: int = setting(help="Random channel draws per N.", minimum=2)
    examples: int = setting(4, help="Rows of the qualitative grid (0 = none).", minimum=0)
    unclip: float = setting(1.6, help="Text detection metric: DB's box growth (area x unclip / "
                            "perimeter of each detected region).", minimum=0.5, maximum=4.0)
    detection_floor: float = setting(
        50.0, help="Text detectors: the baseline check needs the unattacked network's "
        "F-measure (%) on every fold's evaluation images to reach this.", minimum=0.0,
        maximum=100.0)

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
        """The seeds of the attacked models (one when a checkpoint is given; for a real
        network every seed, each one fold of images)."""
        return self.seeds[:1] if self.checkpoint else self.seeds

    def network_name(self) -> str | None:
        """A real network's short name for verdict ids, else None (`names.network_subject`)."""
        return network_subject(self.model)

    def sides(self) -> tuple[str, str]:
        """The two sides of the signed (region) ranking: left, right."""
        return FLIPS["horizontal"][1]


def attack_config(base: str | Mapping[str, Any] = "quick",
                  overrides: Mapping[str, Any] | None = None, *, command: str = "attack"
                  ) -> AttackConfig:
    """A profile name (or saved settings) + command-line values -> the config."""
    over = dict(overrides or {})
    if over.get("model") is not None and is_network(over["model"]):
        over.setdefault("pretrain", NO_PRETRAIN)  # a pretrained network: nothing to pretrain
    if over.get("rank_images") is not None:  # a user's image list replaces the profile's choice
        over.setdefault("rank_where", None)
    if over.get("checkpoint") is not None:  # a trained model is attacked: nothing to pretrain
        over.setdefault("pretrain", NO_PRETRAIN)
    cfg = resolve(AttackConfig, command, base, over)
    cfg = replace(cfg, ns=tuple(sorted(set(cfg.ns) | {0})),
                  region_ns=tuple(sorted(set(cfg.region_ns))))
    _validate(cfg)
    return finish_run_settings(cfg, len(cfg.model_seeds()))


def attack_real_config(base: str | Mapping[str, Any] = "quick",
                       overrides: Mapping[str, Any] | None = None) -> AttackConfig:
    """`chanpos attack-real`: the attack with the profiles of a real pretrained network."""
    return attack_config(base, overrides, command="attack-real")


def _validate_network(cfg: AttackConfig) -> None:
    if cfg.model.startswith(ONNX_PREFIX):
        require_file("--model onnx:", cfg.model[len(ONNX_PREFIX):], "ONNX file")
    if cfg.model == "ppocr-cls":
        raise ChanposError("ppocr-cls is a classifier: the attack needs a dense network "
                           "(ppocr-det, or onnx:PATH); audit classifiers with chanpos audit")
    if cfg.checkpoint is not None:
        raise ChanposError(f"--model {cfg.model} holds its own weights: drop --checkpoint")
    if cfg.pretrain != NO_PRETRAIN:
        raise ChanposError(f"--model {cfg.model} is attacked as it is: use --pretrain none")
    if cfg.source not in TEXT_SOURCES:
        raise ChanposError(f"a real text detector is attacked on --source "
                           f"{' or '.join(TEXT_SOURCES)}, not {cfg.source}")
    if cfg.rank_images is not None:
        raise ChanposError("--rank-images lists evaluation images of a fixed set; a real "
                           "network's folds rank on their own images (use --rank-where)")


def _validate(cfg: AttackConfig) -> None:
    require_distinct(cfg, "seeds")
    if not (cfg.model in SEGMENTATION_MODELS or is_network(cfg.model)):
        raise ChanposError(f"unknown --model {cfg.model!r}; choose from: "
                           f"{', '.join(SEGMENTATION_MODELS)}, ppocr-det, onnx:PATH")
    if is_network(cfg.model):
        _validate_network(cfg)
        require_data_root(cfg.data_root, download=cfg.download)
        if cfg.source == "icdar2015" and cfg.data_root is None:
            raise ChanposError("--source icdar2015 needs --data-root (a folder of img_N.jpg "
                               "with gt_img_N.txt)")
        return
    if cfg.source in TEXT_SOURCES:
        raise ChanposError(f"--source {cfg.source} is for attacking a real text detector "
                           "(--model ppocr-det or onnx:PATH)")
    cfg.check_schedule(cfg.schedule)
    if cfg.pretrain != NO_PRETRAIN and cfg.checkpoint is not None:
        raise ChanposError("--pretrain trains a model, --checkpoint attacks a trained one: give "
                           "one of them")
    if cfg.rank_where is not None and cfg.rank_images is not None:
        raise ChanposError("give either --rank-images or --rank-where, not both")
    require_data_root(cfg.data_root, download=cfg.download)
    require_file("--checkpoint", cfg.checkpoint, "checkpoint file")
    require_file("--rank-images", cfg.rank_images, "name list")
    if cfg.pretrained_backbone and cfg.checkpoint is None and not cfg.download:
        raise ChanposError("--pretrained-backbone downloads ImageNet weights: add --download "
                           "(chanpos never uses the network without it), or use --pretrain "
                           "SOURCE to pretrain offline")
    if cfg.checkpoint is None:
        require_batches(cfg.train_samples or 2, cfg.batch_size, what="training",
                      samples_flag="--train-samples")
    if cfg.source in ("streets", "masks") and cfg.image_size is None:
        raise ChanposError(f"--image-size H,W is needed for {cfg.source} images")
    if cfg.source == "masks" and cfg.data_root is None:
        raise ChanposError("--source masks needs --data-root (a folder with classes.txt and "
                           "train/ and val/, each holding images/ and masks/)")
    if cfg.rank_where is not None:
        if cfg.rank_where.count(":") != 1 or cfg.rank_where.split(":")[1] not in cfg.sides():
            raise ChanposError("--rank-where takes CLASS:SIDE with SIDE left or right (e.g. "
                               f"person:left), got {cfg.rank_where!r}")
    if cfg.source == "cityscapes" and cfg.data_root is None:
        raise ChanposError("--source cityscapes needs --data-root (the folder with leftImg8bit/ "
                           "and gtFine/)")
