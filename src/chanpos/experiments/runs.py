"""Run folders: `runs/<command>-<timestamp>/`, never overwritten, written atomically.

Only the global rank-0 process owns the real folder; other ranks (DDP, torchrun) get a
private temporary folder so that nothing they write can clash with rank 0's files. Files are
created with the process umask (as `open()` would), through a temporary file and a rename.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ChanposError
from ..files import atomic_write_text

__all__ = [
    "RunFolder",
    "process_rank",
    "is_rank_zero",
    "atomic_write_text",
    "atomic_write_json",
    "machine_description",
    "to_plain",
    "writable_parent",
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
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def writable_parent(out: Path) -> Path:
    """`out` as a folder that exists and can be written to, or a one-line ChanposError."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ChanposError(f"--out {out} is a file; give a folder for the run folders")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChanposError(f"--out {out}: cannot create it ({exc.strerror}); give a writable "
                           "folder") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ChanposError(f"--out {out} is not writable; give a folder you can write to")
    return out


class RunFolder:
    """One run's folder: results.json, report.md, plots, config.yaml, per-cell logs."""

    def __init__(self, path: Path, *, owned: bool) -> None:
        self.path = Path(path)
        self.owned = owned  # False on non-zero ranks: a throwaway temp folder
        self.started = time.time()

    @classmethod
    def create(cls, out: Path, command: str, *, name: str | None = None) -> RunFolder:
        """A new `out/<command>-<timestamp>[-n]` folder (or `out/<name>`) on rank 0; a temp
        folder elsewhere. An existing folder is never reused."""
        if not is_rank_zero():
            return cls(Path(tempfile.mkdtemp(prefix=f"chanpos-{command}-rank")), owned=False)
        out = writable_parent(out)
        if name is not None:
            path = out / name
            try:
                path.mkdir()
            except FileExistsError:
                raise ChanposError(f"{path} already exists; run folders are never "
                                   "overwritten") from None
            return cls(path, owned=True)
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
        return cls(Path(path), owned=True)

    @property
    def finished(self) -> bool:
        """True once results.json exists (it is written last)."""
        return (self.path / "results.json").is_file()

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

    def write_config(self, command: str, config: Any) -> Path:
        """Save the resolved configuration as config.yaml (with the command that made it)."""
        doc = {"command": command, **to_plain(config)}
        return self.write_text("config.yaml", yaml.safe_dump(doc, sort_keys=False))

    def read_config(self) -> dict[str, Any]:
        """The saved config.yaml as a dict (with its `command`), or a one-line error."""
        path = self.path / "config.yaml"
        if not path.is_file():
            raise ChanposError(f"{self.path} has no config.yaml; is it a chanpos run folder?")
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ChanposError(f"{path} is not readable YAML ({type(exc).__name__})") from None
        if not isinstance(doc, dict):
            raise ChanposError(f"{path} does not hold a chanpos configuration")
        return doc

    def append_row(self, row: dict[str, Any]) -> None:
        """Record a finished cell in rows.partial.jsonl (what `--resume` skips)."""
        if self.owned:
            with open(self.path / "rows.partial.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(to_plain(row)) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

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
        if self.finished or self.finished_rows():
            return True
        return any(self.path.glob("**/checkpoints/last.ckpt"))

    def discard(self) -> None:
        """Remove the folder (after a failure that left nothing worth resuming)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def cleanup_temp(self) -> None:
        """Remove a non-zero rank's temporary folder."""
        if not self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
