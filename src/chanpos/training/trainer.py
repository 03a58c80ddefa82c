"""One `fit()` helper around Lightning's Trainer: a validation split with the plateau rule,
per-epoch checkpoints, exact resume at every point a process can die, batch-norm
re-estimation after training."""

from __future__ import annotations

import logging
import signal
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from .batchnorm import recalibrate_batchnorm, training_inputs
from .callbacks import EpochCheckpoint, EpochSeed, PlateauStop, SafeCheckpointIO
from .callbacks import read_training_checkpoint as _read
from .evaluate import eval_device
from .options import FitResult, Stopping, TrainerOptions
from .seeding import BN_PHASE, reseed

__all__ = ["FitResult", "fit", "build_trainer", "compile_model", "last_checkpoint"]

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
    ".*but have no `val_dataloader`.*",
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
    options: TrainerOptions, *, max_epochs: int, root_dir: Path, validate: bool,
    extra: list[Callback] | None = None, checkpoints: bool = True,
) -> L.Trainer:
    """A Trainer writing logs and (every epoch) `last.ckpt` under `root_dir`."""
    _quiet_lightning()
    opts = options.resolved()
    callbacks: list[Callback] = [EpochSeed(opts.seed), *(extra or [])]
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
        max_epochs=max_epochs,
        logger=CSVLogger(str(root_dir), name="logs", version=""),
        callbacks=callbacks,
        plugins=[SafeCheckpointIO()],
        enable_checkpointing=False,  # EpochCheckpoint writes last.ckpt every epoch
        enable_progress_bar=opts.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
        check_val_every_n_epoch=1,
        deterministic=opts.deterministic,
        default_root_dir=str(root_dir),
        log_every_n_steps=10,
    )


def compile_model(model: Any) -> None:
    """`torch.compile` `model` in place. For a model with convs that torch's CPU backward
    cannot run in channels_last (`models.channels_last_ok`), inductor is told not to move
    convs to channels_last: its layout optimisation made the backward of a width-4 GAPNet's
    strided 1x1 shortcut hang (torch 2.14.1, AVX2 CPU), as eager channels_last crashes it."""
    from ..models import channels_last_ok

    if not channels_last_ok(model):
        import torch._inductor.config as inductor_config

        inductor_config.layout_optimization = False
    model.compile()


def _epochs_in(ckpt: dict[str, Any]) -> int:
    """Epochs a checkpoint has trained."""
    return int(ckpt["loops"]["fit_loop"]["epoch_progress"]["total"]["processed"])


def _history(ckpt: dict[str, Any]) -> dict[str, Any]:
    for key, state in (ckpt.get("callbacks") or {}).items():
        if str(key).startswith("PlateauStop"):
            return state
    return {}


def fit(
    system: L.LightningModule, train_loader: DataLoader, *, max_epochs: int,
    options: TrainerOptions, root_dir: Path, val_loader: DataLoader | None = None,
    stopping: Stopping | None = None, bn_batches: int = 8, checkpoints: bool = True,
) -> FitResult:
    """Train `system` for at most `max_epochs` (stopping at a validation plateau when
    `val_loader` is given), continuing from `root_dir`'s last completed epoch if any, then
    re-estimate BatchNorm statistics on `bn_batches` training batches. The model ends on the
    evaluation device.

    Every random phase is seeded from `options.seed` (see `seeding`), so a run interrupted at
    any point and resumed ends with the same weights as an uninterrupted one on the same
    machine. A checkpoint of a finished training (plateau reached, or `max_epochs` trained) is
    not trained further: its weights are loaded and only the steps after training run.
    """
    start = time.perf_counter()
    L.seed_everything(options.seed, workers=True, verbose=False)
    if options.compile:
        compile_model(system.model)
    last = last_checkpoint(root_dir)
    saved = _read(last) if checkpoints and last.is_file() else None
    state = _history(saved) if saved is not None else {}
    done = _epochs_in(saved) if saved is not None else 0
    if saved is not None and (state.get("plateaued") or done >= max_epochs):
        # training was over when the process died: only the steps after it run again
        system.load_state_dict(saved["state_dict"], strict=True)
        result = FitResult(done, max_epochs, bool(state.get("plateaued", False)),
                           tuple(state.get("history", ())),
                           fired=tuple(int(e) for e in state.get("fired", ())),
                           gains=tuple(float(g) for g in state.get("gains", ())),
                           ceiling=bool(state.get("ceiling", False)))
    else:
        stopper = PlateauStop(stopping or Stopping()) if val_loader is not None else None
        trainer = build_trainer(options, max_epochs=max_epochs, root_dir=root_dir,
                                validate=val_loader is not None, checkpoints=checkpoints,
                                extra=[stopper] if stopper else None)
        try:
            trainer.fit(system, train_dataloaders=train_loader, val_dataloaders=val_loader,
                        ckpt_path=str(last) if saved is not None else None)
        except SystemExit:
            # Lightning answers Ctrl-C (and chanpos' SIGTERM/SIGHUP, raised as
            # KeyboardInterrupt) with a "graceful shutdown", ignores further Ctrl-C and calls
            # exit(1); give the caller the KeyboardInterrupt it was (resume advice)
            if trainer.interrupted:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt from None
            raise
        rule = stopper.rule if stopper else None
        result = FitResult(trainer.current_epoch, max_epochs, bool(rule and rule.plateaued),
                           tuple(rule.history) if rule else (),
                           fired=tuple(rule.fired) if rule else (),
                           gains=tuple(rule.gains) if rule else (),
                           ceiling=bool(rule and rule.ceiling))
    finish = getattr(system, "finish_training", None)
    if finish is not None:
        finish()  # e.g. the weight average becomes the model (before its BN statistics)
    device = eval_device(options.accelerator)
    system.model.to(device)
    reseed(options.seed, BN_PHASE)
    _recalibrate(system, train_loader, device, bn_batches)
    return replace(result, seconds=round(time.perf_counter() - start, 1))


def _recalibrate(system: L.LightningModule, loader: DataLoader, device: Any, batches: int) -> None:
    """Precise BN after training, on this process's own (seeded) pass over the training set,
    so every DDP rank, and a resumed run, computes the same statistics."""
    prepare = getattr(system, "prepare", None)
    if batches <= 0 or prepare is None:
        return
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(BN_PHASE)
    recalibrate_batchnorm(system.model, training_inputs(loader, prepare, device), batches)

