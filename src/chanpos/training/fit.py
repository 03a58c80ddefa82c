"""One `fit()` helper around Lightning's Trainer, plus `evaluate()` and atomic checkpoints."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch.utils.data import DataLoader

from .batchnorm import recalibrate_batchnorm
from .options import TrainerOptions
from .systems import ClassifierSystem

__all__ = ["fit", "evaluate", "build_trainer", "AtomicCheckpointIO", "PreciseBatchNorm"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to `<path>.tmp` and rename, so a crash never leaves half a file."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None):
        tmp = f"{path}.tmp"
        super().save_checkpoint(checkpoint, tmp, storage_options)
        os.replace(tmp, path)


class PreciseBatchNorm(Callback):
    """After training, re-estimate BN statistics on `num_batches` training batches."""

    def __init__(self, num_batches: int) -> None:
        self.num_batches = num_batches

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.num_batches <= 0 or not isinstance(pl_module, ClassifierSystem):
            return
        loader = trainer.train_dataloader

        def inputs():
            for batch in loader:
                batch = pl_module._apply_batch_transfer_handler(batch)  # to device, no transform
                yield pl_module.prepare(batch, True)[0]

        recalibrate_batchnorm(pl_module.model, inputs(), self.num_batches)


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in (
        ".*does not have many workers.*",
        ".*number of training batches.*",
        ".*GPU available but not used.*",
        ".*LeafSpec.*",
        ".*treespec.*",
        ".*srun.*",
        ".*Checkpoint directory.*exists and is not empty.*",
        ".*Using `DistributedSampler` with the dataloaders.*",
        ".*Experiment logs directory.*exists and is not empty.*",
    ):
        warnings.filterwarnings("ignore", message=pattern)


def build_trainer(
    options: TrainerOptions,
    *,
    epochs: int,
    root_dir: Path,
    bn_batches: int = 0,
    checkpoints: bool = True,
    description: str = "",
) -> L.Trainer:
    """A Trainer for one training run writing logs and checkpoints under `root_dir`."""
    _quiet_lightning()
    opts = options.resolved()
    callbacks: list[Callback] = [PreciseBatchNorm(bn_batches)]
    if opts.progress:
        callbacks.append(TQDMProgressBar(leave=False))
    if checkpoints:
        callbacks.append(
            ModelCheckpoint(dirpath=root_dir / "checkpoints", save_last=True, save_top_k=0)
        )
    devices: Any = int(opts.devices) if str(opts.devices).isdigit() else opts.devices
    return L.Trainer(
        accelerator=opts.accelerator,
        devices=devices,
        strategy=opts.strategy,
        num_nodes=opts.num_nodes,
        precision=opts.precision,
        max_epochs=epochs,
        logger=CSVLogger(str(root_dir), name="logs", version=""),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()] if checkpoints else None,
        enable_checkpointing=checkpoints,
        enable_progress_bar=opts.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        deterministic=opts.deterministic,
        default_root_dir=str(root_dir),
        log_every_n_steps=10,
    )


def fit(
    system: ClassifierSystem,
    train_loader: DataLoader,
    *,
    epochs: int,
    options: TrainerOptions,
    root_dir: Path,
    resume: Path | None = None,
    bn_batches: int = 8,
) -> L.Trainer:
    """Train `system` for `epochs` (resuming from a Lightning checkpoint if given)."""
    L.seed_everything(options.seed, workers=True, verbose=False)
    if options.compile:
        system.model.compile()
    trainer = build_trainer(options, epochs=epochs, root_dir=root_dir, bn_batches=bn_batches)
    trainer.fit(system, train_dataloaders=train_loader, ckpt_path=str(resume) if resume else None)
    return trainer


def evaluate(trainer: L.Trainer, system: ClassifierSystem, loader: DataLoader) -> float:
    """Test accuracy in percent (synced across processes under DDP)."""
    results = trainer.test(system, dataloaders=loader, verbose=False)
    return 100.0 * float(results[0]["test_acc"])
