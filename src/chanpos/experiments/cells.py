"""Running a table's cells: keep the ones an interrupted run finished, train the others (side by
side when `jobs` > 1), record each as soon as it finishes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .parallel import map_runs
from .runs import RunFolder

__all__ = ["run_cells"]

R = TypeVar("R")


def run_cells(items: Sequence[Any], keys: Sequence[str], done: dict[str, R],
              fn: Callable[..., R], shared: tuple[Any, ...], *, jobs: int, threads: int,
              folder: RunFolder, record: Callable[[R], dict[str, Any]],
              describe: Callable[[R], str], log: Callable[[str], None] = print) -> list[R]:
    """`fn(item, *shared)` for every item whose key is not in `done`, in table order.

    Each result is appended to the folder's rows.partial.jsonl (`record(result)`) the moment
    it exists, so an interruption loses at most the runs in flight.
    """
    n = len(items)
    results: dict[str, R] = {}
    for key in keys:
        if key in done:
            results[key] = done[key]
            log(f"[{len(results)}/{n}] {key}: finished earlier")
    todo = [(item, key) for item, key in zip(items, keys, strict=True) if key not in done]
    if jobs > 1 and todo:
        log(f"training {len(todo)} runs, {jobs} at a time in separate processes ({threads} "
            f"thread{'s' if threads > 1 else ''} each)")
    for i, result in map_runs(fn, [item for item, _ in todo], shared, jobs, threads):
        key = todo[i][1]
        folder.append_row(record(result))
        results[key] = result
        log(f"[{len(results)}/{n}] {key}: {describe(result)}")
    return [results[key] for key in keys]
