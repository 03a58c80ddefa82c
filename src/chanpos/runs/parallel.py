"""Independent training runs (the cells of a table) in parallel CPU processes.

Small networks use two CPU threads poorly: on 2 cores, two single-threaded runs side by side
trained 1.4x the images per second of one run with two threads (width-16 ResNet-18, batch 64).
So on CPU the table commands train several cells at once, each in its own process with
cores // jobs threads. Each cell seeds itself, so a cell's result does not depend on which
process ran it or in which order. GPUs, DDP and torchrun keep one cell at a time (jobs = 1).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

from ..errors import ChanposError
from ..training.options import TrainerOptions

__all__ = ["cpu_cores", "resolve_jobs", "cell_threads", "map_runs", "threads", "ParentGone"]

_SHARED: tuple[Any, ...] = ()


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _multi_process(trainer: TrainerOptions) -> bool:
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    return (world > 1 or trainer.num_nodes > 1 or trainer.strategy.startswith("ddp")
            or trainer.devices not in ("auto", "1"))


def _uses_accelerator(trainer: TrainerOptions) -> bool:
    if trainer.accelerator in ("gpu", "cuda", "mps", "tpu"):
        return True
    if trainer.accelerator != "auto":
        return False
    import torch

    mps = getattr(torch.backends, "mps", None)
    return torch.cuda.is_available() or bool(mps and mps.is_available())


def resolve_jobs(jobs: int | str, trainer: TrainerOptions, cells: int) -> int:
    """How many runs train at once: 'auto' = one per CPU core on CPU, else 1; never > cells.

    Resolved once from the whole table (never from the cells that remain), and saved with the
    run, so a resumed run trains its cells as the uninterrupted one would have."""
    shared_device = _uses_accelerator(trainer) or _multi_process(trainer)
    if jobs == "auto":
        n = 1 if shared_device else cpu_cores()
    else:
        try:
            n = int(jobs)
        except (TypeError, ValueError):
            raise ChanposError(f"--jobs must be a positive number or auto, got {jobs!r}") from None
        if n < 1:
            raise ChanposError(f"--jobs must be >= 1 (or auto), got {n}")
        if n > 1 and shared_device:
            raise ChanposError(
                "--jobs > 1 trains cells in parallel CPU processes; with a GPU, DDP or torchrun "
                "use --jobs 1 (or auto), or --accelerator cpu to train on the CPU"
            )
    return max(1, min(n, cells))


def cell_threads(jobs: int) -> int:
    """CPU threads of each training run when `jobs` run at once (cores // jobs, at least 1)."""
    return max(1, cpu_cores() // max(1, jobs))


@contextmanager
def threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to `n` within the block (then restored)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextmanager
def _omp_threads(threads: int) -> Iterator[None]:
    """OMP_NUM_THREADS for spawned children (read when their OpenMP starts), then restored."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


class ParentGone(SystemExit):
    """Raised in a worker process whose parent has ended: it must not write any more."""


def _watch_parent(parent: int) -> None:
    """End this worker the moment its parent ends, however the parent ended.

    Linux: the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG). Everywhere: a
    watchdog thread exits within 0.2 s of the worker being re-parented, and every file write
    first checks the parent (`files.set_write_guard`), so nothing reaches the run folder.
    """
    import threading
    import time

    from ..files import set_write_guard

    def gone() -> bool:
        return os.getppid() != parent

    def guard() -> None:
        if gone():
            raise ParentGone(1)

    set_write_guard(guard)
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        pass
    if gone():  # the parent ended before the kernel could be told
        os._exit(1)

    def watch() -> None:
        while not gone():
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="chanpos-parent-watch", daemon=True).start()


def _init_worker(threads: int, shared: tuple[Any, ...], parent: int) -> None:
    global _SHARED
    import torch

    _watch_parent(parent)
    torch.set_num_threads(threads)
    _SHARED = shared


def _call(fn: Callable[..., Any], item: Any) -> Any:
    return fn(item, *_SHARED)


def map_runs(fn: Callable[..., Any], items: Sequence[Any], shared: tuple[Any, ...], jobs: int,
             n_threads: int) -> Iterator[tuple[int, Any]]:
    """Yield (index, fn(items[index], *shared)) as runs finish, each run with `n_threads`.

    jobs == 1: in this process, in order. jobs > 1: up to that many spawned processes, each
    receiving `shared` (e.g. the data set) once; `fn` must be a module-level function. The
    thread count never depends on how many items there are, so results do not either.
    """
    if jobs <= 1:
        with threads(n_threads):
            for i, item in enumerate(items):
                yield i, fn(item, *shared)
        return
    if not items:
        return
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=get_context("spawn"),
                               initializer=_init_worker, initargs=(n_threads, shared, os.getpid()))
    try:
        with _omp_threads(n_threads):  # children are spawned on submit
            pending = {pool.submit(_call, fn, item): i for i, item in enumerate(items)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=pending.__getitem__):
                i = pending.pop(fut)
                yield i, fut.result()
    except BaseException:  # an error, Ctrl-C or SIGTERM: stop the other runs now
        procs = list(getattr(pool, "_processes", {}).values())
        for proc in procs:
            proc.terminate()
        for proc in procs:  # gone before the caller reports (and a resume can start)
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
