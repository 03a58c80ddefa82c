"""Training: LightningModules that wrap plain models, and one `fit()` helper."""

from .augshift import AugShiftSystem
from .batchnorm import recalibrate_batchnorm
from .fit import AtomicCheckpointIO, PreciseBatchNorm, build_trainer, evaluate, fit
from .options import OPTIMIZERS, PRECISIONS, SCHEDULES, OptimConfig, TrainerOptions
from .segmentation import SegmentationSystem, SegmentationTransform
from .systems import BatchTransform, ClassifierSystem, build_optimizer

__all__ = [
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "AtomicCheckpointIO",
    "AugShiftSystem",
    "BatchTransform",
    "ClassifierSystem",
    "OptimConfig",
    "PreciseBatchNorm",
    "SegmentationSystem",
    "SegmentationTransform",
    "TrainerOptions",
    "build_optimizer",
    "build_trainer",
    "evaluate",
    "fit",
    "recalibrate_batchnorm",
]
