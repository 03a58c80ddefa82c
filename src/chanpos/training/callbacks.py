"""Lightning pieces that make a training run safe to interrupt and exact to resume.

- `SafeCheckpointIO`: checkpoints are written to a temporary file and renamed (a crash never
  leaves half a file) with the process umask, and read back only with
  `torch.load(weights_only=True)`; an unreadable file is a one-line error naming it.
- `EpochSeed`: reseeds every epoch from (run seed, epoch), see `seeding`.
- `PlateauStop`: the plateau rule (`options.Stopping`, `plateau.PlateauRule`) on the
  validation metric, with the per-epoch history; its state travels in the checkpoint.
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
from .plateau import DROP, STOP, PlateauRule, window_gain
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
        # straight to the temp file: Lightning's own save serialises into memory first and
        # copies, about a third of the cost of a checkpoint written after every epoch
        del storage_options
        atomic_save(path, lambda tmp: torch.save(checkpoint, tmp))

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


class PlateauStop(Callback):
    """The plateau rule (`Stopping`, `plateau.PlateauRule`) on the validation metric: lower
    the learning rate at the first `lr_drops` firings, then train on through each candidate
    plateau's continuation and stop once one is confirmed; its state travels in the
    checkpoint, so a resumed run decides exactly as an uninterrupted one."""

    def __init__(self, rule: Stopping) -> None:
        self.rule = PlateauRule(rule)

    @property
    def plateaued(self) -> bool:
        """Whether the rule stopped training at a confirmed plateau."""
        return self.rule.plateaued

    @property
    def history(self) -> list[float]:
        """The validation metric after every epoch."""
        return self.rule.history

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or MONITOR not in trainer.callback_metrics:
            return
        action = self.rule.step(float(trainer.callback_metrics[MONITOR]))
        if action == DROP:
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] *= self.rule.rule.lr_factor
        elif action == STOP:
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return self.rule.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rule.load_state_dict(state)


class EpochCheckpoint(Callback):
    """Save the full training state (with `PlateauStop`'s) to `path` at the end of every epoch,
    atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path)
