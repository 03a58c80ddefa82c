"""Table 1's data, loaded and checked before any run folder exists."""

from __future__ import annotations

from dataclasses import dataclass

from ...data import ImageSet, load_source
from ...errors import ChanposError
from ...runs.validate import require_at_most, require_batches, require_holdout, require_memory
from .config import TILE, Table1Config

__all__ = ["Table1Data", "load_table1_data"]


@dataclass(frozen=True)
class Table1Data:
    """Each task's (training split less its validation split, validation split, test split).
    The location task uses every class; the object task the first `object_classes`."""

    splits: dict[str, tuple[ImageSet, ImageSet, ImageSet]]

    def of(self, task: str) -> tuple[ImageSet, ImageSet, ImageSet]:
        """(train, val, test) of `task`."""
        return self.splits[task]


def load_table1_data(cfg: Table1Config) -> Table1Data:
    """Every task's splits; errors here come before any run folder exists."""
    _require_memory(cfg)
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download)
    fewer = "object" in cfg.tasks and cfg.object_classes is not None
    test_all = load_source(cfg.source, split="test", data_root=cfg.data_root,
                           num_samples=None if fewer else cfg.test_samples)
    if fewer and cfg.object_classes > train.num_classes:
        raise ChanposError(f"--object-classes {cfg.object_classes}: {cfg.source} has only "
                           f"{train.num_classes} classes; use at most {train.num_classes}")
    splits = {}
    for task in cfg.tasks:
        few = task == "object" and fewer
        source = train.first_classes(cfg.object_classes) if few else train
        test = test_all.first_classes(cfg.object_classes) if few else test_all
        of = f" of the first {cfg.object_classes} classes" if few else ""
        require_holdout(cfg.val_samples, len(source), flag="--val-samples", source=cfg.source,
                        what=f"training tiles{of}")
        rest, val = source.holdout(cfg.val_samples)
        require_at_most(cfg.test_samples, len(test), flag="--test-samples",
                        what=f"test tiles{of}")
        test = test.subset(cfg.test_samples)
        require_at_most(cfg.train_samples(task), len(rest), flag=f"--{task}-train-samples",
                        what=f"training tiles{of} (the training split less --val-samples)")
        n = min(cfg.train_samples(task) or len(rest), len(rest))
        require_batches(n, cfg.task_batch_size(task), what="training",
                        samples_flag=f"--{task}-train-samples")
        splits[task] = (rest, val, test)
    return Table1Data(splits)


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
