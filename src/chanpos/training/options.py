"""Frozen option dataclasses for optimisation and for Lightning's Trainer (one per concern)."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["OptimConfig", "TrainerOptions", "OPTIMIZERS", "SCHEDULES", "PRECISIONS"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "64-true")


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser settings; the default is the paper's Adam, betas (0.5, 0.999) (Claim 1)."""

    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"


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
