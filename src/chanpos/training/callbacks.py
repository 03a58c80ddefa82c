"""Lightning pieces that make a training run safe to interrupt and exact to resume.

- `SafeCheckpointIO`: checkpoints are written to a temporary file and renamed (a crash never
  leaves half a file) with the process umask, and read back only with
  `torch.load(weights_only=True)`; an unreadable file is a one-line error naming it.
- `EpochSeed`: reseeds every epoch from (run seed, epoch), see `seeding`.
- `PlateauStop`: the plateau rule (`options.Stopping`) on the validation metric, with the
  per-epoch history; its state travels in the checkpoint.
- `EpochCheckpoint`: writes `last.ckpt` at the end of every epoch (Lightning's
  ModelCheckpoint with save_top_k=0 only writes "last" when training ends); with the plateau
  state in it, a resume after the last epoch skips training and runs only what follows it.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..errors import ChanposError
from ..files import atomic_save
from ..models.checkpoints import refusal_reason
from .options import Stopping
from .seeding import reseed

__all__ = ["SafeCheckpointIO", "EpochSeed", "PlateauStop", "EpochCheckpoint", "MONITOR",
           "read_training_checkpoint", "window_gain"]

MONITOR = "val_metric"  # what systems log on the validation split (percent, higher = better)


def read_training_checkpoint(path: Any, map_location: Any = "cpu") -> dict[str, Any]:
    """A Lightning checkpoint loaded with `weights_only=True`, or a one-line ChanposError."""
    if not Path(path).is_file():
        raise ChanposError(f"training checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location=map_location or "cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, KeyError,
            IndexError, TypeError, AttributeError, AssertionError) as exc:
        raise ChanposError(
            f"{Path(path)} is not a loadable training checkpoint ({refusal_reason(exc)}); "
            "delete it to restart that run from its first epoch") from None
    if not isinstance(obj, dict):
        raise ChanposError(f"{Path(path)} is not a training checkpoint; delete it to restart "
                           "that run from its first epoch")
    return obj


class SafeCheckpointIO(TorchCheckpointIO):
    """Atomic writes (temp file + rename, umask permissions); weights_only reads."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None):
        atomic_save(path, lambda tmp: super(SafeCheckpointIO, self).save_checkpoint(
            checkpoint, tmp, storage_options))

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None
                        ) -> dict[str, Any]:
        """Always `weights_only=True`, whatever the caller asked (a resume must not run code)."""
        del weights_only
        return read_training_checkpoint(path, map_location)


class EpochSeed(Callback):
    """Reseed every random generator at the start of each epoch from (seed, epoch)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        reseed(self.seed, trainer.current_epoch)


def window_gain(values: list[float]) -> float:
    """Points gained across `values` by their robust trend: the Theil–Sen slope (the median
    of the slopes between every pair of epochs, which one outlying epoch cannot swing)
    times (len - 1)."""
    n = len(values)
    if n < 2:
        return 0.0
    slopes = sorted((values[j] - values[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    m = len(slopes)
    median = slopes[m // 2] if m % 2 else (slopes[m // 2 - 1] + slopes[m // 2]) / 2
    return median * (n - 1)


class PlateauStop(Callback):
    """The plateau rule (`Stopping`) on the validation metric: lower the learning rate at the
    first `lr_drops` plateaus, stop at the next; keeps the per-epoch history. `plateaued`
    says whether the rule stopped training."""

    def __init__(self, rule: Stopping) -> None:
        self.rule = rule
        self.history: list[float] = []
        self.since = 0   # epochs since the start or the last learning-rate drop
        self.drops = 0
        self.plateaued = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or MONITOR not in trainer.callback_metrics:
            return
        self.history.append(round(float(trainer.callback_metrics[MONITOR]), 4))
        self.since += 1
        window = self.history[-self.rule.patience:]
        if (self.since < self.rule.patience or len(self.history) < self.rule.min_epochs
                or window_gain(window) > self.rule.min_delta):
            return
        if self.drops < self.rule.lr_drops:
            self.drops, self.since = self.drops + 1, 0
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] *= self.rule.lr_factor
            return
        self.plateaued = True
        trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history), "since": self.since, "drops": self.drops,
                "plateaued": self.plateaued}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [float(v) for v in state.get("history", [])]
        self.since, self.drops = int(state.get("since", 0)), int(state.get("drops", 0))
        self.plateaued = bool(state.get("plateaued", False))


class EpochCheckpoint(Callback):
    """Save the full training state (with `PlateauStop`'s) to `path` at the end of every epoch,
    atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path)
