"""Table 1's data, loaded and checked before any run folder exists."""

from __future__ import annotations

from ...data import ImageSet, load_source
from ...runs.validate import require_batches, require_holdout
from .config import Table1Config

__all__ = ["load_table1_data"]


def load_table1_data(cfg: Table1Config) -> tuple[ImageSet, ImageSet, ImageSet]:
    """(training split less the validation split, validation split, test split); errors
    here come before any run folder exists."""
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download)
    test = load_source(cfg.source, split="test", data_root=cfg.data_root,
                       num_samples=cfg.test_samples)
    require_holdout(cfg.val_samples, len(train), flag="--val-samples", source=cfg.source,
                  what="training tiles")
    rest, val = train.holdout(cfg.val_samples)
    for task in cfg.tasks:
        n = min(cfg.train_samples(task) or len(rest), len(rest))
        require_batches(n, cfg.batch_size, what="training",
                      samples_flag=f"--{task}-train-samples")
    return rest, val, test
