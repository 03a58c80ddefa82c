"""Training the attacked models: optional backbone pretraining on a classification source (the
paper's ImageNet-pretrained ResNet-50, in miniature), then segmentation training."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ...data import ImageSet, TileDataset
from ...data.segmentation import collate_segmentation
from ...models import ModelSpec, create_model
from ...runs.cells import init_seed
from ...runs.shared import trainer_options
from ...training import (
    ClassifierSystem,
    FitResult,
    OptimConfig,
    SegmentationSystem,
    fit,
    flip_transform,
    predict,
    train_loader,
)
from .config import AttackConfig
from .rows import Pretraining

__all__ = ["pretrain_backbone", "train_segmentation", "segmentation_loader"]


def segmentation_loader(data: Dataset, batch_size: int, cfg: AttackConfig) -> DataLoader:
    """Batches of (uint8 images, labels) of a segmentation set, in order."""
    return DataLoader(data, batch_size=batch_size, num_workers=cfg.workers,
                      collate_fn=collate_segmentation, pin_memory=torch.cuda.is_available())


def _backbone_name(cfg: AttackConfig) -> str:
    return "paper_resnet18" if cfg.model == "deeplabv3_small" else "resnet50" if \
        "resnet50" in cfg.model else "resnet101"


def pretrain_backbone(cfg: AttackConfig, model: nn.Module, seed: int,
                      data: tuple[ImageSet, ImageSet, ImageSet], root: Path) -> Pretraining:
    """Train a GAP classifier with the segmentation model's backbone on `cfg.pretrain` to its
    validation plateau, then copy its backbone weights into `model.backbone` (in place)."""
    train, val, test = data
    kwargs = {"backbone": _backbone_name(cfg), "num_classes": train.num_classes,
              "padding": cfg.padding}
    if cfg.model == "deeplabv3_small":
        kwargs["width"] = cfg.width
    init_seed(seed)
    net = create_model("classifier", **kwargs)
    transform = flip_transform(train.mean, train.std)
    system = ClassifierSystem(net, num_classes=train.num_classes,
                              optim=OptimConfig(lr=cfg.pretrain_lr, betas=(0.9, 0.999),
                                                schedule="constant"),
                              batch_transform=transform)
    loader = train_loader(TileDataset(train), batch_size=64, seed=seed,
                          collate_fn=TileDataset.collate, num_workers=cfg.workers)
    val_loader = DataLoader(TileDataset(val), batch_size=250, collate_fn=TileDataset.collate,
                            num_workers=cfg.workers)
    start = time.perf_counter()
    fitted = fit(system, loader, max_epochs=cfg.pretrain_max_epochs,
                 options=trainer_options(cfg, seed, channels_last=False), root_dir=root,
                 val_loader=val_loader, stopping=cfg.stopping(), bn_batches=cfg.bn_batches)
    device = next(net.parameters()).device
    preds, targets = predict(net, DataLoader(TileDataset(test), batch_size=250,
                                             collate_fn=TileDataset.collate),
                             lambda b: transform(b, False), device=device, seed=seed)
    missing, unexpected = model.backbone.load_state_dict(net.backbone.state_dict(), strict=False)
    if missing or unexpected:  # the builders share layer names; a mismatch is a bug here
        raise RuntimeError(f"pretrained backbone does not fit: missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]}")
    fitted = replace(fitted, seconds=round(time.perf_counter() - start, 1))
    return Pretraining(source=cfg.pretrain, images=len(train),
                       test_top1_pct=round(100.0 * float((preds == targets).float().mean()), 2),
                       training=fitted)


def train_segmentation(cfg: AttackConfig, model: nn.Module, spec: ModelSpec,
                       train_set: Dataset, val_set: Dataset, seed: int, root: Path
                       ) -> FitResult:
    """Train `model` (in place) on the segmentation training split to its validation
    plateau (mIoU on `val_set`)."""
    start = time.perf_counter()
    system = SegmentationSystem(
        model, num_classes=spec.kwargs["num_classes"], mean=train_set.mean, std=train_set.std,
        optim=OptimConfig(optimizer=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          schedule=cfg.schedule, betas=(0.9, 0.999)),
        flip_prob=cfg.flip_prob, crop=cfg.crop_size, ignore_index=int(train_set.ignore_index),
        model_spec=spec,
    )
    loader = train_loader(train_set, batch_size=cfg.batch_size, seed=seed,
                          collate_fn=collate_segmentation, num_workers=cfg.workers)
    fitted = fit(system, loader, max_epochs=cfg.max_epochs,
                 options=trainer_options(cfg, seed, channels_last=False), root_dir=root,
                 val_loader=segmentation_loader(val_set, cfg.eval_batch_size, cfg),
                 stopping=cfg.stopping(), bn_batches=cfg.bn_batches)
    return replace(fitted, seconds=round(time.perf_counter() - start, 1))
