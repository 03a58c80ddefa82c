"""Table 1's data, loaded and checked before any run folder exists."""

from __future__ import annotations

from ...data import ImageSet, load_source
from ...runs.validate import require_at_most, require_batches, require_holdout, require_memory
from .config import TILE, Table1Config

__all__ = ["load_table1_data"]


def load_table1_data(cfg: Table1Config) -> tuple[ImageSet, ImageSet, ImageSet]:
    """(training split less the validation split, validation split, test split); errors
    here come before any run folder exists."""
    _require_memory(cfg)
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download)
    test = load_source(cfg.source, split="test", data_root=cfg.data_root,
                       num_samples=cfg.test_samples)
    require_holdout(cfg.val_samples, len(train), flag="--val-samples", source=cfg.source,
                  what="training tiles")
    rest, val = train.holdout(cfg.val_samples)
    require_at_most(cfg.test_samples, len(test), flag="--test-samples", what="test tiles")
    for task in cfg.tasks:
        require_at_most(cfg.train_samples(task), len(rest), flag=f"--{task}-train-samples",
                        what="training tiles (the training split less --val-samples)")
        n = min(cfg.train_samples(task) or len(rest), len(rest))
        require_batches(n, cfg.task_batch_size(task), what="training",
                      samples_flag=f"--{task}-train-samples")
    return rest, val, test


def _require_memory(cfg: Table1Config) -> None:
    """Refuse grid sizes whose canvases cannot be trained on in this machine's memory."""
    from ...models import create_model
    from ...models.footprint import activation_bytes

    for task, sizes in (("location", cfg.grid_sizes), ("object", cfg.object_grid_sizes)):
        if task not in cfg.tasks:
            continue
        k = max(sizes)
        side = k * TILE
        net = create_model("gapnet", num_classes=k * k, width=cfg.width)
        batch = cfg.task_batch_size(task)
        need = cfg.jobs * activation_bytes(net, side, side, batch)
        flag = "--grid-sizes" if task == "location" else "--object-grid-sizes"
        require_memory(need, what=f"training on {side}x{side} px canvases (grid size {k}, "
                       f"batch {batch}, {cfg.jobs} at a time)",
                       fix=f"use a smaller {flag} or --batch-size (or --jobs 1)")
