"""Training: LightningModules that wrap plain models, one `fit()` helper, losses.

Names are imported on first use, so `import chanpos.training.options` (the CLI's option
types) does not load Lightning.
"""

from __future__ import annotations

from .._lazy import lazy_attributes

_WHERE = {
    "AugShiftSystem": "augshift",
    "AugShiftLoss": "losses",
    "AugShiftParts": "losses",
    "recalibrate_batchnorm": "batchnorm",
    "EpochSeed": "callbacks",
    "EpochCheckpoint": "callbacks",
    "EpochShuffle": "sampling",
    "train_loader": "sampling",
    "PlateauStop": "callbacks",
    "MONITOR": "callbacks",
    "FitResult": "options",
    "Stopping": "options",
    "SafeCheckpointIO": "callbacks",
    "build_trainer": "trainer",
    "fit": "trainer",
    "last_checkpoint": "trainer",
    "predict": "evaluate",
    "eval_device": "evaluate",
    "OPTIMIZERS": "options",
    "PRECISIONS": "options",
    "SCHEDULES": "options",
    "OptimConfig": "options",
    "TrainerOptions": "options",
    "SegmentationSystem": "segmentation",
    "SegmentationTransform": "segmentation",
    "BatchTransform": "systems",
    "ClassifierSystem": "systems",
    "build_optimizer": "systems",
    "flip_transform": "systems",
    "phase_seed": "seeding",
    "reseed": "seeding",
}
__all__ = sorted(_WHERE)


__getattr__ = lazy_attributes(__name__, _WHERE)
