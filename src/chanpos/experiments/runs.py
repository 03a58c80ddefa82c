"""Run folders: `runs/<command>-<timestamp>/`, never overwritten, written atomically.

Only the global rank-0 process owns the real folder; other ranks (DDP, torchrun) get a
private temporary folder so that nothing they write can clash with rank 0's files.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

__all__ = [
    "RunFolder",
    "process_rank",
    "is_rank_zero",
    "atomic_write_text",
    "atomic_write_json",
    "machine_description",
    "to_plain",
]


def process_rank() -> int:
    """Global rank of this process from the launcher's environment (0 when not launched)."""
    for var in ("RANK", "SLURM_PROCID"):
        if var in os.environ:
            return int(os.environ[var])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    node = int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", "0")))
    return 0 if local == 0 and node == 0 else max(local, 1)


def is_rank_zero() -> bool:
    """True in the process that writes results (rank 0 or a plain single process)."""
    return process_rank() == 0


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def to_plain(obj: Any) -> Any:
    """Dataclasses, tuples and paths -> JSON/YAML-friendly dicts, lists and strings."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON-dump `obj` atomically (indent 2)."""
    atomic_write_text(path, json.dumps(to_plain(obj), indent=2) + "\n")


def machine_description() -> str:
    """One line naming the CPU count, accelerator and library versions of this machine."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


class RunFolder:
    """One run's folder: results.json, report.md, plots, config.yaml, per-cell logs."""

    def __init__(self, path: Path, *, owned: bool) -> None:
        self.path = path
        self.owned = owned  # False on non-zero ranks: a throwaway temp folder
        self.started = time.time()

    @classmethod
    def create(cls, out: Path, command: str) -> RunFolder:
        """A new `out/<command>-<timestamp>[-n]` folder on rank 0; a temp folder elsewhere."""
        if not is_rank_zero():
            return cls(Path(tempfile.mkdtemp(prefix=f"chanpos-{command}-rank")), owned=False)
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = out / f"{command}-{stamp}"
        n = 2
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                path = out / f"{command}-{stamp}-{n}"
                n += 1
        return cls(path, owned=True)

    @classmethod
    def reopen(cls, path: Path) -> RunFolder:
        """An existing run folder, to resume it (rank 0), or a temp folder on other ranks."""
        if not is_rank_zero():
            return cls(Path(tempfile.mkdtemp(prefix="chanpos-resume-rank")), owned=False)
        return cls(path, owned=True)

    def cell_dir(self, cell_id: str) -> Path:
        """Folder for one training run's logs and checkpoints."""
        return self.path / "cells" / cell_id

    def write_json(self, name: str, obj: Any) -> Path:
        """Atomically write JSON (rank 0 only; a no-op elsewhere)."""
        path = self.path / name
        if self.owned:
            atomic_write_json(path, obj)
        return path

    def write_text(self, name: str, text: str) -> Path:
        """Atomically write text (rank 0 only)."""
        path = self.path / name
        if self.owned:
            atomic_write_text(path, text)
        return path

    def write_config(self, config: Any) -> Path:
        """Save the resolved configuration as config.yaml."""
        return self.write_text("config.yaml", yaml.safe_dump(to_plain(config), sort_keys=False))

    def append_row(self, row: dict[str, Any]) -> None:
        """Record a finished cell in rows.partial.jsonl (what `--resume` skips)."""
        if self.owned:
            with open(self.path / "rows.partial.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(to_plain(row)) + "\n")

    def finished_rows(self) -> list[dict[str, Any]]:
        """Rows recorded by an earlier, interrupted run of this folder."""
        path = self.path / "rows.partial.jsonl"
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash
                break
        return rows

    def has_progress(self) -> bool:
        """True when the folder holds results, finished rows or a checkpoint worth resuming."""
        if (self.path / "results.json").exists() or self.finished_rows():
            return True
        return any(self.path.glob("cells/*/checkpoints/*.ckpt"))

    def discard(self) -> None:
        """Remove the folder (after a failure that left nothing worth resuming)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def cleanup_temp(self) -> None:
        """Remove a non-zero rank's temporary folder."""
        if not self.owned:
            shutil.rmtree(self.path, ignore_errors=True)

    @contextmanager
    def guard(self) -> Iterator[RunFolder]:
        """Discard the folder if the run fails before any cell finished; keep it otherwise."""
        try:
            yield self
        except BaseException:
            if self.owned and not self.has_progress():
                self.discard()
            raise
        finally:
            self.cleanup_temp()
