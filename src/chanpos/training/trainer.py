"""One `fit()` helper around Lightning's Trainer: per-epoch checkpoints, exact resume."""

from __future__ import annotations

import logging
import signal
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from .callbacks import EpochCheckpoint, EpochSeed, PreciseBatchNorm, SafeCheckpointIO
from .options import TrainerOptions

__all__ = ["fit", "build_trainer", "last_checkpoint"]

_QUIET = (
    ".*does not have many workers.*",
    ".*number of training batches.*",
    ".*GPU available but not used.*",
    ".*LeafSpec.*",
    ".*treespec.*",
    ".*srun.*",
    ".*Checkpoint directory.*exists and is not empty.*",
    ".*Using `DistributedSampler` with the dataloaders.*",
    ".*Experiment logs directory.*exists and is not empty.*",
    ".*max_epochs=.* reached.*",
)


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in _QUIET:
        warnings.filterwarnings("ignore", message=pattern)


def last_checkpoint(root_dir: Path) -> Path:
    """Where a run under `root_dir` keeps the checkpoint of its last completed epoch."""
    return Path(root_dir) / "checkpoints" / "last.ckpt"


def build_trainer(
    options: TrainerOptions, *, epochs: int, root_dir: Path, bn_batches: int = 0,
    checkpoints: bool = True,
) -> L.Trainer:
    """A Trainer writing logs and (every epoch) `last.ckpt` under `root_dir`."""
    _quiet_lightning()
    opts = options.resolved()
    callbacks: list[Callback] = [EpochSeed(opts.seed), PreciseBatchNorm(bn_batches, opts.seed)]
    if opts.progress:
        callbacks.append(TQDMProgressBar(leave=False))
    if checkpoints:
        callbacks.append(EpochCheckpoint(last_checkpoint(root_dir)))
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
        plugins=[SafeCheckpointIO()],
        enable_checkpointing=False,  # EpochCheckpoint writes last.ckpt every epoch
        enable_progress_bar=opts.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        deterministic=opts.deterministic,
        default_root_dir=str(root_dir),
        log_every_n_steps=10,
    )


def fit(
    system: L.LightningModule, train_loader: DataLoader, *, epochs: int, options: TrainerOptions,
    root_dir: Path, bn_batches: int = 8, checkpoints: bool = True,
) -> L.Trainer:
    """Train `system` for `epochs`, continuing from `root_dir`'s last completed epoch if any.

    Every random phase is seeded from `options.seed` (see `seeding`), so an interrupted run
    that is resumed ends with the same weights as an uninterrupted one on the same machine.
    """
    L.seed_everything(options.seed, workers=True, verbose=False)
    if options.compile:
        system.model.compile()
    trainer = build_trainer(options, epochs=epochs, root_dir=root_dir, bn_batches=bn_batches,
                            checkpoints=checkpoints)
    last = last_checkpoint(root_dir)
    resume = str(last) if checkpoints and last.is_file() else None
    try:
        trainer.fit(system, train_dataloaders=train_loader, ckpt_path=resume)  # SafeCheckpointIO
    except SystemExit:
        # Lightning answers Ctrl-C with a "graceful shutdown", ignores further Ctrl-C and calls
        # exit(1); give the caller the KeyboardInterrupt it was (resume advice, exit 130)
        if trainer.interrupted:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt from None
        raise
    return trainer
