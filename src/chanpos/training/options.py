"""Frozen option dataclasses for optimisation and for Lightning's Trainer (one per concern)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..names import OPTIMIZERS, PRECISIONS, SCHEDULES

__all__ = ["OptimConfig", "TrainerOptions", "Stopping", "FitResult", "OPTIMIZERS", "SCHEDULES",
           "PRECISIONS"]


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser settings; the default is the paper's Adam, betas (0.5, 0.999) (Claim 1)."""

    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    average: float = 0.0  # decay of a per-step moving average of the weights (0 = none)


@dataclass(frozen=True)
class Stopping:
    """The plateau rule on the monitored validation metric (percent, higher is better).

    It fires when the robust (Theil–Sen) trend of the last `patience` epochs' values gains at
    most `min_delta` points across them (never before `min_epochs`): a trend, not the best
    value, and a robust one, so that a noisy metric that is still climbing is not mistaken for
    a plateau because of one bad epoch, and one that has flattened is. The first `lr_drops`
    firings multiply the learning rate by `lr_factor` (a fresh window after each). After
    them a firing is only a candidate: the model trains on for `continuation_epochs` more
    epochs at the same learning rate, and the plateau counts only if the median of the last
    `patience` of those epochs gains at most `min_delta` over the median of the window that
    fired; otherwise
    training goes on (`chanpos.training.plateau`). A whole window at 100 % stops training at
    once (nothing can be gained). A run that reaches its epoch maximum first has not
    plateaued."""

    patience: int = 6
    min_delta: float = 1.0
    min_epochs: int = 1
    lr_drops: int = 0
    lr_factor: float = 0.1
    continuation: float = 0.5

    def continuation_epochs(self, epoch: int) -> int:
        """Epochs trained on after the rule fires at `epoch`: `continuation` x the epochs
        trained by then, at least `patience` (0 when no continuation is asked for)."""
        if self.continuation <= 0:
            return 0
        return max(self.patience, math.ceil(self.continuation * epoch))

    def least_epochs(self, fit: FitResult) -> int:
        """The fewest epochs at which a run that ended like `fit`, without a confirmed plateau,
        could confirm one: where its pending continuation ends, or else a candidate at the
        next epoch plus its continuation (a lower bound: a still-rising model needs more; only
        a whole window at 100 % can stop a run sooner, and that is not a confirmed plateau)."""
        nxt = fit.epochs + 1
        if len(fit.fired) > len(fit.gains):  # the last candidate's continuation was cut short
            return max(nxt, fit.fired[-1] + self.continuation_epochs(fit.fired[-1]))
        if fit.gains and fit.gains[-1] <= self.min_delta:  # confirmed, but ended in a dip
            return nxt
        nxt = max(nxt, self.min_epochs)
        return nxt + self.continuation_epochs(nxt)


@dataclass(frozen=True)
class FitResult:
    """How one training run ended (the one record of it: rows embed it, the `converged` check
    reads it): epochs trained of at most `max_epochs`, whether the plateau rule stopped it
    (a plateau confirmed by its continuation), the validation metric (percent) after every
    epoch, the epochs at which the rule fired (`fired`), the gain measured over the
    continuation after each firing (`gains`: the last one confirmed the plateau when
    `plateaued`), the training's wall seconds, and whether it stopped with a whole window at
    100 % (`ceiling`: a plateau nothing can rise from, so no continuation was trained)."""

    epochs: int
    max_epochs: int
    plateaued: bool
    history: tuple[float, ...]
    seconds: float = 0.0
    fired: tuple[int, ...] = ()
    gains: tuple[float, ...] = ()
    ceiling: bool = False

    @property
    def best(self) -> float | None:
        """The best validation metric of the run (None without a validation split)."""
        return max(self.history) if self.history else None


@dataclass(frozen=True)
class TrainerOptions:
    """Where and how Lightning trains: devices, strategy (DDP), precision, seed, progress."""

    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    seed: int = 0
    progress: bool = True
    channels_last: bool = True
    compile: bool = False
    deterministic: bool = False

    def resolved(self) -> TrainerOptions:
        """Fill devices/strategy/num_nodes from torchrun's environment when launched by it."""
        world = os.environ.get("WORLD_SIZE")
        local = os.environ.get("LOCAL_WORLD_SIZE")
        if world and local and "TORCHELASTIC_RUN_ID" in os.environ:
            nodes = max(1, int(world) // int(local))
            strategy = self.strategy if self.strategy not in ("auto",) else "ddp"
            return TrainerOptions(
                accelerator=self.accelerator,
                devices=local,
                strategy=strategy,
                num_nodes=nodes,
                precision=self.precision,
                seed=self.seed,
                progress=self.progress,
                channels_last=self.channels_last,
                compile=self.compile,
                deterministic=self.deterministic,
            )
        return self
