"""Everything the audit needs before a folder exists (images, the model or how to train it,
the layers), and the training of a chanpos model when no checkpoint is given."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from ...data import ImageSet, TileDataset, load_source
from ...errors import ChanposError
from ...models import create_model, load_model_checkpoint, save_model_checkpoint
from ...ops import Normalise
from ...training import ClassifierSystem, OptimConfig, fit, flip_transform, predict, train_loader
from ..cells import init_seed
from ..checks import check_holdout
from ..run_settings import trainer_options
from ..runs import RunFolder
from .config import AuditConfig

__all__ = ["AuditInputs", "TrainedModel", "prepare_audit", "train_model", "fresh_copy",
           "layers", "sample_canvases", "trained_model"]


@dataclass
class AuditInputs:
    """The images and the model (given, or the spec of the one trained here)."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    model: nn.Module | None
    spec: dict[str, Any] | None
    origin: str


@dataclass(frozen=True)
class TrainedModel:
    """The classifier trained here (the audit's one cell) and how its training ended."""

    seed: int
    epochs: int
    max_epochs: int
    plateaued: bool
    val_history: tuple[float, ...]
    test_top1_pct: float
    seconds: float

    @property
    def key(self) -> str:
        """The cell id."""
        return "model"


def fresh_copy(model: nn.Module, seed: int) -> nn.Module:
    """The same architecture with freshly initialised weights (every module that can reset
    its parameters does, under `seed`)."""
    fresh = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return fresh


def _need(n: int, have: int, flag: str, what: str) -> None:
    if n > have:
        raise ChanposError(f"{flag} {n} asks for more {what} than the source has ({have}); "
                           f"use at most {have}")


def prepare_audit(cfg: AuditConfig) -> AuditInputs:
    """Load the images and the model, check every count against the data (one line each)."""
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download)
    test = load_source(cfg.source, split="test", data_root=cfg.data_root)
    _need(cfg.probe_samples, len(train), "--probe-samples", "training images")
    _need(cfg.readout_samples, len(train), "--readout-samples", "training images")
    _need(cfg.probe_test_samples, len(test), "--probe-test-samples", "test images")
    _need(cfg.readout_test_samples, len(test), "--readout-test-samples", "test images")
    check_holdout(cfg.val_samples, len(train), flag="--val-samples", source=cfg.source)
    rest, val = train.holdout(cfg.val_samples)
    if cfg.checkpoint is None:
        spec = {"name": cfg.model, "kwargs": {"num_classes": train.num_classes,
                                              "width": cfg.width}}
        inputs = AuditInputs(rest, val, test, None, spec, f"{cfg.model} trained here on "
                             f"{cfg.source}")
        shape = create_model(spec["name"], **spec["kwargs"])
    else:
        from ..attack.rank import load_any_model

        model, origin = load_any_model(cfg.model, Path(cfg.checkpoint), train.num_classes)
        inputs, shape = AuditInputs(rest, val, test, model, None, origin), model
    layers(cfg, shape, sample_canvases(test, cfg.grid_size))  # the layers exist and are maps
    return inputs


def sample_canvases(images: ImageSet, k: int) -> torch.Tensor:
    """Two normalised canvases (tiles in cell 0): what the layer checks run on."""
    from ...data import place_in_grid

    tiles = Normalise(images.mean, images.std)(images.images[:2])
    return place_in_grid(tiles, torch.zeros(2, dtype=torch.long), k)


def layers(cfg: AuditConfig, model: nn.Module, sample: torch.Tensor) -> tuple[str, tuple[str, ...]]:
    """(probed layer, readout stages) of `model`, each checked to give (B, C, H, W) maps."""
    from ...probes.channels import check_feature_layer
    from .run import auto_layer, auto_stages

    layer = cfg.layer or auto_layer(model)
    stages = cfg.stages or auto_stages(model)
    model.eval()
    for name in (layer, *stages):
        check_feature_layer(model, name, sample)
    return layer, tuple(stages)


def train_model(item: int, cfg: AuditConfig, inputs: AuditInputs, folder: RunFolder
                ) -> TrainedModel:
    """Train the audited chanpos classifier on the source to its validation plateau and save
    it as cells/model/model.pt (the audit's only cell; resumable like every cell)."""
    del item
    init_seed(cfg.seed)
    net = create_model(inputs.spec["name"], **inputs.spec["kwargs"])
    transform = flip_transform(inputs.train.mean, inputs.train.std)
    system = ClassifierSystem(net, num_classes=inputs.train.num_classes,
                              optim=OptimConfig(lr=cfg.lr, betas=(0.9, 0.999)),
                              batch_transform=transform, model_spec=inputs.spec)
    subset = inputs.train.subset(cfg.train_samples, seed=cfg.seed)
    root = folder.cell_dir("model")
    start = time.perf_counter()
    fitted = fit(system, train_loader(TileDataset(subset), batch_size=cfg.batch_size,
                                      seed=cfg.seed, collate_fn=TileDataset.collate,
                                      num_workers=cfg.workers),
                 max_epochs=cfg.max_epochs,
                 options=trainer_options(cfg, cfg.seed, channels_last=False), root_dir=root,
                 val_loader=DataLoader(TileDataset(inputs.val), batch_size=250,
                                       collate_fn=TileDataset.collate),
                 stopping=cfg.stopping(), bn_batches=8)
    device = next(net.parameters()).device
    preds, targets = predict(net, DataLoader(TileDataset(inputs.test), batch_size=250,
                                             collate_fn=TileDataset.collate),
                             lambda b: transform(b, False), device=device, seed=cfg.seed)
    if folder.owned:
        save_model_checkpoint(net, inputs.spec, root / "model.pt")
    return TrainedModel(cfg.seed, fitted.epochs, cfg.max_epochs, fitted.plateaued,
                        fitted.history,
                        round(100.0 * float((preds == targets).float().mean()), 2),
                        round(time.perf_counter() - start, 1))


def trained_model(folder: RunFolder) -> nn.Module:
    """The model the audit's training cell saved."""
    return load_model_checkpoint(folder.cell_dir("model") / "model.pt")[0]
