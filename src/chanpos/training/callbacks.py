"""Lightning pieces that make a training run safe to interrupt and exact to resume.

- `SafeCheckpointIO`: checkpoints are written to a temporary file and renamed (a crash never
  leaves half a file) with the process umask, and read back only with
  `torch.load(weights_only=True)`; an unreadable file is a one-line error naming it.
- `EpochSeed`: reseeds every epoch from (run seed, epoch), see `seeding`.
- `EpochCheckpoint`: writes `last.ckpt` at the end of every epoch (Lightning's
  ModelCheckpoint with save_top_k=0 only writes "last" when training ends).
- `PreciseBatchNorm`: re-estimates BatchNorm statistics after training on a few batches.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..errors import ChanposError
from ..files import atomic_save
from .batchnorm import recalibrate_batchnorm
from .seeding import BN_PHASE, reseed

__all__ = ["SafeCheckpointIO", "EpochSeed", "EpochCheckpoint", "PreciseBatchNorm"]


class SafeCheckpointIO(TorchCheckpointIO):
    """Atomic writes (temp file + rename, umask permissions); weights_only reads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None):
        atomic_save(path, lambda tmp: super(SafeCheckpointIO, self).save_checkpoint(
            checkpoint, tmp, storage_options))

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None
                        ) -> dict[str, Any]:
        """Always `weights_only=True`, whatever the caller asked (a resume must not run code)."""
        del weights_only
        if not Path(path).is_file():
            raise ChanposError(f"training checkpoint {path} does not exist")
        try:
            return torch.load(path, map_location=map_location or "cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            reason = next((ln for ln in lines if "Unsupported global" in ln), lines[0] if lines
                          else type(exc).__name__)
            raise ChanposError(
                f"{Path(path)} is not a loadable training checkpoint ({reason}); delete it to "
                "restart that run from its first epoch"
            ) from None


class EpochSeed(Callback):
    """Reseed every random generator at the start of each epoch from (seed, epoch)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        reseed(self.seed, trainer.current_epoch)


class EpochCheckpoint(Callback):
    """Save the full training state to `path` at the end of every epoch (atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path)


class PreciseBatchNorm(Callback):
    """After training, re-estimate BN statistics on `num_batches` training batches."""

    def __init__(self, num_batches: int, seed: int = 0) -> None:
        self.num_batches, self.seed = num_batches, int(seed)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        prepare = getattr(pl_module, "prepare", None)
        if self.num_batches <= 0 or prepare is None:
            return
        reseed(self.seed, BN_PHASE)
        loader = trainer.train_dataloader

        def inputs():
            for batch in loader:
                batch = pl_module._apply_batch_transfer_handler(batch)  # to device, no transform
                yield prepare(batch, True)[0]

        recalibrate_batchnorm(pl_module.model, inputs(), self.num_batches)
