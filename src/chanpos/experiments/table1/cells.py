"""Table 1's cells: train one GAPNet or PermuteNet per {task, grid size, padding, model} and
record its per-canvas test predictions (Islam et al., ICCV 2021, Table 1)."""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader

from ...data import GridPlacer, ImageSet, TileDataset
from ...models import ModelSpec, channels_last_ok, save_model_checkpoint
from ...ops import eval_device
from ...runs.cells import init_seed, run_cells
from ...runs.folders import RunFolder
from ...runs.shared import trainer_options
from ...training import ClassifierSystem, OptimConfig, fit, predict, train_loader
from .config import Table1Config
from .prepare import Table1Data
from .rows import Table1Row, cell_id

__all__ = ["run_cell", "run_table1"]


def _labels(task: str, k: int, train: ImageSet) -> tuple[str, ...]:
    """What the model's outputs mean: grid cells (row-major) or the source's classes."""
    if task == "location":
        return tuple(f"cell {i // k},{i % k}" for i in range(k * k))
    names = getattr(train, "class_names", None)
    return tuple(names) if names else tuple(str(c) for c in range(train.num_classes))


def run_cell(cell: tuple[str, int, str, str, int], cfg: Table1Config, data: Table1Data,
             folder: RunFolder) -> Table1Row:
    """Train one Table 1 cell to its plateau (resuming where an interrupted run stopped) and
    evaluate it on the test canvases. The data splits and the test canvases are the same
    for every seed; a seed fixes the initial weights, the training subset and order."""
    task, k, padding, model_name, seed = cell
    train, val, test = data.of(task)
    num_classes = k * k if task == "location" else train.num_classes
    spec = ModelSpec(model_name, {"num_classes": num_classes, "padding": padding,
                                  "width": cfg.width, "backbone": "paper_resnet18"})
    side = k * int(train.images.shape[-1])
    spec = spec.with_meta(source=cfg.source, image_size=(side, side),
                          mean=tuple(train.mean), std=tuple(train.std), grid_size=k,
                          class_names=_labels(task, k, train))
    init_seed(seed)
    model = spec.build()
    channels_last = cfg.channels_last and channels_last_ok(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    placer = GridPlacer(k, task, train.mean, train.std, channels_last=channels_last)
    system = ClassifierSystem(
        model, num_classes=num_classes,
        optim=OptimConfig(lr=cfg.lr(task), average=cfg.task_weight_average(task)),
        batch_transform=lambda b, is_train: placer(b[0], b[1], b[2], train=is_train),
        model_spec=spec, channels_last=channels_last, average_bn_batches=cfg.bn_batches,
    )
    subset = train.subset(cfg.train_samples(task), seed=seed)
    dl_train = train_loader(TileDataset(subset, grid_size=k, seed=seed),
                            batch_size=cfg.task_batch_size(task), seed=seed,
                            collate_fn=TileDataset.collate, num_workers=cfg.workers)
    eval_batch = max(cfg.batch_size, 100)
    dl_val = DataLoader(TileDataset(val, grid_size=k, seed=104729),
                        batch_size=eval_batch, collate_fn=TileDataset.collate,
                        num_workers=cfg.workers)
    dl_test = DataLoader(TileDataset(test, grid_size=k, seed=7919),
                         batch_size=eval_batch, collate_fn=TileDataset.collate,
                         num_workers=cfg.workers)
    root = folder.cell_dir(cell_id(*cell))
    start = time.perf_counter()
    fitted = fit(system, dl_train, max_epochs=cfg.task_max_epochs(task),
                 options=trainer_options(cfg, seed, channels_last=channels_last),
                 root_dir=root, val_loader=dl_val, stopping=cfg.task_stopping(task),
                 bn_batches=cfg.bn_batches)
    device = eval_device(cfg.accelerator)
    preds, targets = predict(system.model, dl_test,
                             lambda b: placer(b[0], b[1], b[2], train=False), device=device,
                             seed=seed)
    correct = preds == targets
    if folder.owned:
        save_model_checkpoint(system.model, spec, root / "model.pt")
    return Table1Row(
        model=model_name, padding=padding, grid_size=k, task=task,
        accuracy_pct=round(100.0 * float(correct.float().mean()), 2),
        chance_pct=round(100.0 / num_classes, 2), training=fitted,
        train_samples=len(subset), val_samples=len(val),
        seconds=round(time.perf_counter() - start, 1), seed=seed, lr=cfg.lr(task),
        correct="".join("1" if c else "0" for c in correct.tolist()),
    )


def run_table1(cfg: Table1Config, data: Table1Data, folder: RunFolder, *, log=print
               ) -> list[Table1Row]:
    """Run every cell of `cfg`, keeping cells an interrupted run of `folder` already finished."""
    cells = cfg.cells()
    return run_cells(cfg, cells, [cell_id(*c) for c in cells], run_cell, (data, folder),
                     folder=folder, row_type=Table1Row, key_of=lambda r: r.key, log=log,
                     describe=lambda r: f"accuracy {r.accuracy_pct:.1f} % (chance "
                                        f"{r.chance_pct:.1f} %), {r.training.epochs} epochs"
                                        f"{'' if r.training.plateaued else ' (no plateau)'}, "
                                        f"{r.seconds:.0f} s")
