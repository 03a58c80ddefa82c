"""The cell skeleton every training experiment (table1, table2, attack) shares.

A cell is one training run with its evaluation; its result is one typed row. `run_cells`
keeps the rows an interrupted run of the folder already finished, trains the others (side by
side when `jobs` > 1, each worker with progress bars off), records each row the moment it
exists, and then (unless `keep_checkpoints`) removes that cell's resume-only checkpoints.
The order of the writes keeps every kill point resumable: model.pt, then the row, then the
deletion (a cell whose row exists is finished, whatever else is on disk).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from .folders import RunFolder
from .parallel import map_runs

__all__ = ["run_cells", "init_seed"]

R = TypeVar("R")


def init_seed(seed: int) -> None:
    """Seed what a cell draws before training starts (the initial weights): every cell of
    every experiment starts from `training.seeding.reseed(seed, INIT_PHASE)`."""
    from ..training.seeding import INIT_PHASE, reseed

    reseed(seed, INIT_PHASE)


def run_cells(cfg: Any, items: Sequence[Any], keys: Sequence[str], fn: Callable[..., R],
              shared: tuple[Any, ...], *, folder: RunFolder, row_type: type,
              key_of: Callable[[R], str], describe: Callable[[R], str],
              log: Callable[[str], None] = print) -> list[R]:
    """`fn(item, cfg, *shared)` for every item whose key has no row yet, in table order.

    `cfg` needs `jobs`, `threads`, `progress` and `keep_checkpoints`; `fn` must be a
    module-level function (worker processes import it).
    """
    n = len(items)
    done = {key_of(r): r for r in folder.finished_rows(row_type)}
    results: dict[str, R] = {}
    for key in keys:
        if key in done:
            results[key] = done[key]
            if not cfg.keep_checkpoints:
                folder.remove_resume_files(key)  # a kill between the row and the deletion
            log(f"[{len(results)}/{n}] {key}: finished earlier")
    todo = [(item, key) for item, key in zip(items, keys, strict=True) if key not in done]
    if cfg.jobs > 1 and todo:
        log(f"running {len(todo)} cells, {cfg.jobs} at a time in separate processes "
            f"({cfg.threads} thread{'s' if cfg.threads > 1 else ''} each)")
    worker_cfg = replace(cfg, progress=False) if cfg.jobs > 1 else cfg
    for i, result in map_runs(fn, [item for item, _ in todo], (worker_cfg, *shared), cfg.jobs,
                              cfg.threads):
        key = todo[i][1]
        folder.append_row(result)
        if not cfg.keep_checkpoints:
            folder.remove_resume_files(key)
        results[key] = result
        log(f"[{len(results)}/{n}] {key}: {describe(result)}")
    return [results[key] for key in keys]
