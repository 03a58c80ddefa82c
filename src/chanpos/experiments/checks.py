"""Validation shared by every command: one place that turns bad input into one-line errors."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ChanposError
from ..training.options import PRECISIONS, TrainerOptions
from .parallel import resolve_jobs
from .profiles import load_profile

__all__ = [
    "TRAINER_KEYS",
    "ACCELERATORS",
    "merge_settings",
    "check_names",
    "check_int",
    "check_number",
    "check_seed",
    "check_data_root",
    "check_trainer",
    "resolve_parallel",
    "build_config",
]

TRAINER_KEYS = ("accelerator", "devices", "strategy", "num_nodes", "precision", "progress",
                "channels_last", "compile")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
MAX_SEED = 2**31 - 1


def merge_settings(experiment: str, base: str | Mapping[str, Any],
                   overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A profile (by name) or saved settings, with `overrides` on top (None = keep).

    Device overrides (`TRAINER_KEYS`) go into the nested `trainer` settings.
    """
    if isinstance(base, str):
        values = load_profile(experiment, base)
        values["profile"] = base
    else:
        values = dict(base)
    trainer = dict(values.pop("trainer", None) or {})
    for key, value in overrides.items():
        if value is None:
            continue
        if key in TRAINER_KEYS:
            trainer[key] = value
        else:
            values[key] = value
    values["trainer"] = trainer
    return values


def check_names(values: Iterable[Any], valid: Iterable[Any], what: str, option: str) -> None:
    """Every value must be one of `valid`."""
    valid = tuple(valid)
    for v in values:
        if v not in valid:
            raise ChanposError(
                f"unknown {what} {v!r} in {option}; choose from: {', '.join(map(str, valid))}")


def check_int(option: str, value: Any, minimum: int = 1, *, allow_none: bool = False) -> None:
    """`value` must be a whole number >= `minimum` (or None when allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ChanposError(f"{option} must be a whole number >= {minimum}, got {value!r}")


def check_number(option: str, value: Any, *, minimum: float = 0.0, strict: bool = True,
                 maximum: float | None = None) -> None:
    """`value` must be a finite number > `minimum` (>= if not `strict`) and <= `maximum`."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value > minimum if strict else value >= minimum)
          and (maximum is None or value <= maximum))
    if not ok:
        bound = f"{'>' if strict else '>='} {minimum:g}" + (f" and <= {maximum:g}"
                                                            if maximum is not None else "")
        raise ChanposError(f"{option} must be a finite number {bound}, got {value!r}")


def check_seed(option: str, value: Any) -> None:
    """Seeds are whole numbers in [0, 2^31 - 1]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ChanposError(f"{option} must be a whole number from 0 to {MAX_SEED}, got {value!r}")


def check_data_root(data_root: str | None) -> None:
    """A given --data-root must be an existing folder."""
    if data_root is None:
        return
    path = Path(data_root).expanduser()
    if not path.exists():
        raise ChanposError(f"--data-root {path} does not exist")
    if not path.is_dir():
        raise ChanposError(f"--data-root {path} is a file; give the folder holding the dataset")


def check_trainer(t: TrainerOptions) -> None:
    """Device options: names, counts, and whether the requested accelerator exists."""
    check_names([t.accelerator], ACCELERATORS, "accelerator", "--accelerator")
    check_names([t.precision], PRECISIONS, "precision", "--precision")
    check_int("--num-nodes", t.num_nodes)
    devices = str(t.devices)
    if devices != "auto" and not (devices.isdigit() and int(devices) >= 1) and not all(
            p.strip().isdigit() for p in devices.split(",")):
        raise ChanposError(f"--devices takes a count (2), a list (0,1) or auto, got {devices!r}")
    if t.strategy != "auto":
        from lightning.pytorch.strategies import StrategyRegistry

        check_names([t.strategy], StrategyRegistry.available_strategies(), "strategy",
                    "--strategy")
    if t.accelerator in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ChanposError(f"--accelerator {t.accelerator}: torch sees no GPU "
                               "(torch.cuda.is_available() is False); use --accelerator cpu or "
                               "auto")
    if t.accelerator == "mps":
        import torch

        mps = getattr(torch.backends, "mps", None)
        if not (mps and mps.is_available()):
            raise ChanposError("--accelerator mps: no Apple GPU available; use cpu or auto")


def build_config(cls: type, values: dict[str, Any], *, seed: int, validate: Any,
                 count_cells: Any, what: str) -> Any:
    """The frozen config `cls` from merged `values`: device options checked, `validate(cfg)`
    called, then `jobs` and `threads` fixed from `count_cells(cfg)` training runs."""
    from .lifecycle import from_plain

    trainer = from_plain(TrainerOptions, {**values["trainer"], "seed": seed},
                         where="device options").resolved()  # torchrun's devices and nodes
    check_trainer(trainer)
    values["trainer"] = trainer
    cfg = from_plain(cls, values, where=f"{what} settings")
    validate(cfg)
    resolve_parallel(values, trainer, count_cells(cfg))
    return from_plain(cls, values, where=f"{what} settings")


def resolve_parallel(values: dict[str, Any], trainer: TrainerOptions, cells: int) -> None:
    """Fix `jobs` and `threads` (ints) in `values` from the whole table, once per run."""
    from .parallel import cell_threads

    jobs = values.get("jobs")
    values["jobs"] = resolve_jobs("auto" if jobs is None else jobs, trainer, max(1, cells))
    if values.get("threads") is None:
        values["threads"] = cell_threads(values["jobs"])
    check_int("--threads", values["threads"])
