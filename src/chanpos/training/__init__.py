"""Training: LightningModules that wrap plain models, and one `fit()` helper."""

from .batchnorm import recalibrate_batchnorm
from .fit import AtomicCheckpointIO, PreciseBatchNorm, build_trainer, evaluate, fit
from .options import OPTIMIZERS, PRECISIONS, SCHEDULES, OptimConfig, TrainerOptions
from .systems import BatchTransform, ClassifierSystem, build_optimizer

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "AtomicCheckpointIO",
    "BatchTransform",
    "ClassifierSystem",
    "OptimConfig",
    "PreciseBatchNorm",
    "TrainerOptions",
    "build_optimizer",
    "build_trainer",
    "evaluate",
    "fit",
    "recalibrate_batchnorm",
]
