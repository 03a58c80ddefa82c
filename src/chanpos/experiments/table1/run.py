"""Table 1's cells: train one GAPNet or PermuteNet per {task, grid size, padding, model} and
record its per-canvas test predictions (Islam et al., ICCV 2021, Table 1)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from ...data import GridPlacer, ImageSet, TileDataset, load_source
from ...models import channels_last_ok, create_model, save_model_checkpoint
from ...training import ClassifierSystem, OptimConfig, fit, predict, train_loader
from ..cells import run_cells
from ..runs import RunFolder
from .config import Table1Config

__all__ = ["Table1Row", "cell_id", "load_table1_data", "run_cell", "run_table1"]


@dataclass(frozen=True)
class Table1Row:
    """One cell's result. `correct` holds one character per test canvas ('1' = right), in
    test-set order, so verdict intervals can pair GAPNet and PermuteNet canvas by canvas."""

    model: str
    padding: str
    grid_size: int
    task: str
    accuracy_pct: float
    chance_pct: float
    epochs: int
    train_samples: int
    seconds: float
    seed: int
    lr: float
    correct: str

    def as_dict(self) -> dict[str, Any]:
        """The results.json row."""
        return asdict(self)


def cell_id(task: str, k: int, padding: str, model: str) -> str:
    """Stable folder name of one cell."""
    return f"{task}-k{k}-{padding}-{model}"


def load_table1_data(cfg: Table1Config) -> tuple[ImageSet, ImageSet]:
    """The source's train and test sets (errors here come before any run folder exists)."""
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download, seed=cfg.seed)
    test = load_source(cfg.source, split="test", data_root=cfg.data_root,
                       num_samples=cfg.test_samples, seed=cfg.seed)
    return train, test


def run_cell(cfg: Table1Config, cell: tuple[str, int, str, str], train: ImageSet, test: ImageSet,
             folder: RunFolder) -> Table1Row:
    """Train and evaluate one Table 1 cell (resuming its last completed epoch if any)."""
    task, k, padding, model_name = cell
    budget = cfg.budget(task)
    num_outputs = k * k if task == "location" else train.num_classes
    spec = {"name": model_name, "kwargs": {"num_outputs": num_outputs, "padding": padding,
                                            "width": cfg.width, "backbone": "paper_resnet18"}}
    L.seed_everything(cfg.seed, workers=True, verbose=False)  # model init is part of the seed
    model = create_model(spec["name"], **spec["kwargs"])
    channels_last = cfg.trainer.channels_last and channels_last_ok(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    placer = GridPlacer(k, task, train.mean, train.std, channels_last=channels_last)
    system = ClassifierSystem(
        model, num_classes=num_outputs, optim=OptimConfig(lr=budget.lr),
        batch_transform=lambda b, is_train: placer(b[0], b[1], b[2], train=is_train),
        model_spec=spec, channels_last=channels_last,
    )
    subset = train.subset(budget.train_samples, seed=cfg.seed)
    dl_train = train_loader(TileDataset(subset, grid_size=k, seed=cfg.seed),
                            batch_size=cfg.batch_size, seed=cfg.seed,
                            collate_fn=TileDataset.collate, num_workers=cfg.num_workers)
    dl_test = DataLoader(TileDataset(test, grid_size=k, seed=cfg.seed + 7919),
                         batch_size=max(cfg.batch_size, 100), collate_fn=TileDataset.collate,
                         num_workers=cfg.num_workers)
    root = folder.cell_dir(cell_id(*cell))
    start = time.perf_counter()
    fit(system, dl_train, epochs=budget.epochs, options=cfg.trainer, root_dir=root,
        bn_batches=cfg.bn_batches)
    device = next(system.model.parameters()).device
    preds, targets = predict(system.model, dl_test,
                             lambda b: placer(b[0], b[1], b[2], train=False), device=device,
                             seed=cfg.seed)
    correct = preds == targets
    if folder.owned:
        save_model_checkpoint(system.model, spec, root / "model.pt")
    return Table1Row(
        model=model_name, padding=padding, grid_size=k, task=task,
        accuracy_pct=round(100.0 * float(correct.float().mean()), 2),
        chance_pct=round(100.0 / num_outputs, 2), epochs=budget.epochs,
        train_samples=len(subset), seconds=round(time.perf_counter() - start, 1),
        seed=cfg.seed, lr=budget.lr, correct="".join("1" if c else "0" for c in correct.tolist()),
    )


def _table1_cell(cell: tuple[str, int, str, str], cfg: Table1Config, train: ImageSet,
                 test: ImageSet, folder: RunFolder) -> Table1Row:
    """One cell (module level, so worker processes can call it)."""
    return run_cell(cfg, cell, train, test, folder)


def run_table1(cfg: Table1Config, data: tuple[ImageSet, ImageSet], folder: RunFolder, *,
               log=print) -> list[Table1Row]:
    """Run every cell of `cfg`, keeping cells an interrupted run of `folder` already finished."""
    train, test = data
    done = {cell_id(r["task"], r["grid_size"], r["padding"], r["model"]): Table1Row(**r)
            for r in folder.finished_rows()}
    cells = cfg.cells()
    worker_cfg = replace(cfg, trainer=replace(cfg.trainer, progress=False)) if cfg.jobs > 1 else cfg
    return run_cells(cells, [cell_id(*c) for c in cells], done, _table1_cell,
                     (worker_cfg, train, test, folder), jobs=cfg.jobs, threads=cfg.threads,
                     folder=folder, record=Table1Row.as_dict, log=log,
                     describe=lambda r: f"accuracy {r.accuracy_pct:.1f} % (chance "
                                        f"{r.chance_pct:.1f} %), {r.seconds:.0f} s")
