"""Input validation that needs more than a field's own range: several settings together, the
devices of this machine, files and folders, and the data a run will see. Every failure is one
line naming the flag to change (`settings.where_of`). ("Check" is reserved for the checks
that make a verdict's experiment valid, `chanpos.verdicts.validity`.)"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ChanposError
from .settings import where_of

__all__ = ["MAX_SEED", "require_names", "require_distinct", "require_data_root", "require_file",
           "require_devices", "require_batches", "require_holdout", "require_at_most",
           "available_memory", "require_memory", "gigabytes"]

MAX_SEED = 2**31 - 1


def require_names(values: Iterable[Any], valid: Iterable[Any], what: str, option: str) -> None:
    """Every value must be one of `valid`."""
    valid = tuple(valid)
    for v in values:
        if v not in valid:
            raise ChanposError(
                f"unknown {what} {v!r} in {option}; choose from: {', '.join(map(str, valid))}")


def require_distinct(cfg: Any, name: str) -> None:
    """The list setting `name` of `cfg` is not empty and has no duplicates."""
    values = getattr(cfg, name)
    flag = where_of(type(cfg), name)
    if not values:
        raise ChanposError(f"{flag} needs at least one value")
    if len(set(values)) != len(values):
        raise ChanposError(f"{flag} has duplicates: {', '.join(map(str, values))}")


def require_data_root(data_root: str | None, *, download: bool = False) -> None:
    """A given --data-root must be an existing folder (with --download it may be created)."""
    if data_root is None:
        return
    path = Path(data_root).expanduser()
    if not path.exists() and download:
        return
    if not path.exists():
        raise ChanposError(f"--data-root {path} does not exist")
    if not path.is_dir():
        raise ChanposError(f"--data-root {path} is a file; give the folder holding the dataset")


def require_file(option: str, path: str | None, what: str = "file") -> None:
    """A given file option must name an existing file (not a folder)."""
    if path is None:
        return
    p = Path(path).expanduser()
    if p.is_dir():
        raise ChanposError(f"{option} {p} is a folder; give the {what} itself")
    if not p.is_file():
        raise ChanposError(f"{option} {p} does not exist")


def require_devices(cfg: Any) -> None:
    """Device options: counts, strategy names, and whether the accelerator exists here."""
    devices = str(cfg.devices)
    if devices != "auto" and not (devices.isdigit() and int(devices) >= 1) and not all(
            p.strip().isdigit() for p in devices.split(",")):
        raise ChanposError(f"--devices takes a count (2), a list (0,1) or auto, got {devices!r}")
    if cfg.strategy != "auto":
        from lightning.pytorch.strategies import StrategyRegistry

        require_names([cfg.strategy], StrategyRegistry.available_strategies(), "strategy",
                    "--strategy")
    if cfg.accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ChanposError(f"--accelerator {cfg.accelerator}: torch sees no GPU "
                               "(torch.cuda.is_available() is False); use --accelerator cpu or "
                               "auto")
    if cfg.accelerator == "mps":
        import torch

        mps = getattr(torch.backends, "mps", None)
        if not (mps and mps.is_available()):
            raise ChanposError("--accelerator mps: no Apple GPU available; use cpu or auto")


def require_batches(samples: int, batch_size: int, *, what: str, samples_flag: str,
                  batch_flag: str = "--batch-size") -> None:
    """Training needs at least two images: BatchNorm cannot learn from a batch of one (a last
    batch of one image is dropped, see `chanpos.training.train_loader`)."""
    if samples < 2:
        raise ChanposError(f"{samples_flag} gives {samples} {what} image"
                           f"{'s' if samples != 1 else ''}; BatchNorm needs batches of at least "
                           f"2 images: use at least 2 (with {batch_flag} >= 2)")
    if batch_size < 2:
        raise ChanposError(f"{batch_flag} must be at least 2: BatchNorm cannot train on a "
                           "batch of one image")


def require_holdout(held: int, total: int, *, flag: str, source: str,
                  what: str = "training images") -> None:
    """A validation split of `held` images carved out of `total` must leave at least two."""
    if held >= total - 1:
        raise ChanposError(f"{flag} {held} leaves no {what}: {source} has {total}; use at most "
                           f"{total - 2}")


def require_at_most(wanted: int | None, have: int, *, flag: str, what: str) -> None:
    """A count the data must hold: asking for more than there is is an error (never a
    silent clamp, so the recorded settings always describe what ran)."""
    if wanted is not None and wanted > have:
        raise ChanposError(f"{flag} {wanted} asks for more {what} than there are ({have}); "
                           f"use at most {have} (or all)")


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (Linux MemAvailable; None if unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def gigabytes(n: float) -> str:
    """'12.3 GB'."""
    return f"{n / 1e9:.1f} GB"


def require_memory(needed: float, *, what: str, fix: str) -> None:
    """Refuse a run whose estimated memory (`needed` bytes for `what`) does not fit in what
    this machine has available, with both figures and how to make it smaller."""
    free = available_memory()
    if free is not None and needed > free:
        raise ChanposError(f"{what} would need about {gigabytes(needed)} of memory, but this "
                           f"machine has {gigabytes(free)} available; {fix}")
