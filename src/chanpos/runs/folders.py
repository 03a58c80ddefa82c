"""Run folders: `runs/<command>-<timestamp>/`, never overwritten, written atomically.

Only the global rank-0 process owns the real folder; other ranks (DDP, torchrun) get a
private temporary folder so that nothing they write can clash with rank 0's files. Files are
created with the process umask (as `open()` would), through a temporary file and a rename.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import tempfile
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ChanposError
from ..files import atomic_save, atomic_write_text
from .settings import CONFIG_VERSION

__all__ = [
    "RunFolder",
    "process_rank",
    "is_rank_zero",
    "atomic_write_text",
    "atomic_write_json",
    "machine_description",
    "to_plain",
    "writable_parent",
    "quote",
    "human_size",
    "LOCK_NAME",
    "OLDEST_RESUMABLE",
]

LOCK_NAME = "run.lock"
# folders of an older config version hold rows in a layout this release cannot read
OLDEST_RESUMABLE = 2


def quote(path: str | Path) -> str:
    """A path as the shell needs it typed (quoted when it holds spaces or specials)."""
    return shlex.quote(str(path))


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


def to_json(obj: Any, *, indent: int | None = None, where: str = "a result") -> str:
    """Strict JSON text of `obj` (no NaN or Infinity, which JSON does not have: such a value is
    a one-line error naming `where`, never an invalid file)."""
    try:
        return json.dumps(to_plain(obj), indent=indent, allow_nan=False)
    except ValueError:
        raise ChanposError(f"{where}: a value to record is not a finite number (NaN or "
                           "infinity); nothing was written") from None


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON-dump `obj` atomically (indent 2, strict: see `to_json`)."""
    atomic_write_text(path, to_json(obj, indent=2, where=str(path)) + "\n")


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
    """One run's folder: results.json, report.md, plots, config.yaml, per-cell logs.

    `owned`: this process writes the real folder (rank 0; other ranks get a throwaway temp
    folder). `created`: this process made it (a failed fresh run may remove it; a reopened
    folder is never removed). An owned folder is locked (`run.lock`, an OS file lock that
    ends with the process, however it ends) so that only one process writes it at a time.
    """

    def __init__(self, path: Path, *, owned: bool, created: bool = False) -> None:
        self.path = Path(path)
        self.owned = owned
        self.created = created
        self.started = time.time()
        self._lock_fd: int | None = None
        self._lock_created = False
        self._claimed = False

    @classmethod
    def create(cls, out: Path, command: str, *, name: str | None = None) -> RunFolder:
        """A new, locked `out/<command>-<timestamp>[-n]` folder (or `out/<name>`) on rank 0; a
        temp folder elsewhere. An existing folder is never reused."""
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
        else:
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
        folder = cls(path, owned=True, created=True)
        folder.lock()
        folder.claim()
        return folder

    @classmethod
    def reopen(cls, path: Path) -> RunFolder:
        """An existing run folder, locked, to resume it (rank 0), or a temp folder elsewhere."""
        if not is_rank_zero():
            return cls(Path(tempfile.mkdtemp(prefix="chanpos-resume-rank")), owned=False)
        path = Path(path)
        if not path.is_dir():
            raise ChanposError(f"--resume {quote(path)}: no such run folder")
        folder = cls(path, owned=True)
        folder.lock()
        return folder

    # ---- one writer at a time ----
    def lock(self) -> None:
        """Take the folder's lock, or a one-line error naming the process that holds it.

        The lock file is not written yet (`claim` does that once the folder is known good):
        a reopened folder that is then refused stays byte-for-byte as it was."""
        if not self.owned or self._lock_fd is not None:
            return
        import fcntl

        lock = self.path / LOCK_NAME
        existed = lock.exists()
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise ChanposError(f"{quote(self.path)} is being written by {holder}; wait for it "
                               "to finish (or stop it), then resume") from None
        self._lock_fd, self._lock_created, self._claimed = fd, not existed, False

    def claim(self) -> None:
        """Write who holds the lock into it (a second writer's message names this process)."""
        if self._lock_fd is None or self._claimed:
            return
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"chanpos process {os.getpid()} on {platform.node()} (since "
                                f"{time.strftime('%Y-%m-%d %H:%M:%S')})".encode())
        self._claimed = True

    def release(self) -> None:
        """Give the lock back: the lock file goes if this process wrote or made it; a lock
        file it found and never claimed (a refused folder) is left exactly as it was."""
        if self._lock_fd is None:
            return
        try:
            if self._claimed or self._lock_created:
                (self.path / LOCK_NAME).unlink(missing_ok=True)
        finally:
            os.close(self._lock_fd)
            self._lock_fd = None

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
        """Save the resolved configuration as config.yaml (with the command that made it and
        the config version of its settings layout)."""
        doc = {"command": command, "config_version": CONFIG_VERSION, **to_plain(config)}
        return self.write_text("config.yaml", yaml.safe_dump(doc, sort_keys=False))

    def read_saved(self) -> dict[str, Any]:
        """config.yaml's settings, without `command`, its config version under
        `compose.SAVED` (a setting added since then takes its legacy value)."""
        from .compose import SAVED, WHERE

        doc = self.read_config()
        doc.pop("command", None)
        version = doc.pop("config_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or not (
                1 <= version <= CONFIG_VERSION):
            raise ChanposError(f"{self.path / 'config.yaml'}: config_version {version!r} is not "
                               f"one this chanpos knows (1 to {CONFIG_VERSION}); the folder "
                               "was written by another version of chanpos")
        if version < OLDEST_RESUMABLE:
            raise ChanposError(f"{quote(self.path)} was written by chanpos 0.1 (config version "
                               f"{version}), whose rows this release cannot read; finish it "
                               "with chanpos 0.1 or start a new run")
        return {**doc, SAVED: version, WHERE: str(self.path / "config.yaml")}

    def read_config(self) -> dict[str, Any]:
        """The saved config.yaml as a dict (with its `command`), or a one-line error."""
        path = self.path / "config.yaml"
        if path.exists() and not path.is_file():
            raise ChanposError(f"{path} is not a file; the run folder is damaged")
        if not path.is_file():
            raise ChanposError(f"{quote(self.path)} has no config.yaml; is it a chanpos run "
                               "folder?")
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ChanposError(f"{path} is not readable YAML ({type(exc).__name__}); the run "
                               "folder is damaged") from None
        if not isinstance(doc, dict):
            raise ChanposError(f"{path} does not hold a chanpos configuration")
        return doc

    # ---- finished cells ----
    @property
    def rows_path(self) -> Path:
        """rows.partial.jsonl: one JSON line per finished cell."""
        return self.path / "rows.partial.jsonl"

    def append_row(self, row: Any) -> None:
        """Record a finished cell in rows.partial.jsonl (what `--resume` skips)."""
        if not self.owned:
            return
        from ..files import after_write

        line = to_json(row, where=str(self.rows_path)) + "\n"
        with open(self.rows_path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        after_write(self.rows_path)

    def finished_rows(self, row_type: type | None = None) -> list[Any]:
        """Rows recorded by an earlier, interrupted run of this folder, each checked against
        `row_type` (returned as that type). A last line cut by a crash (no newline) is dropped
        and the file rewritten without it; any other damaged line is a one-line error naming
        the file and line."""
        from .settings import from_plain

        path = self.rows_path
        self.require_files()
        if not path.is_file():
            return []
        data = path.read_bytes()
        lines = data.split(b"\n")
        torn = not data.endswith(b"\n") and bool(lines[-1])
        rows = []
        for i, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                if torn and i == len(lines):
                    break  # the half-written last line of a crash: dropped below
                raise ChanposError(f"{path} line {i} is not a JSON row; the run folder is "
                                   "damaged (delete that line to rerun its cell)") from None
            if row_type is not None:
                obj = from_plain(row_type, obj, where=f"{path} line {i}", complete=True)
            rows.append(obj)
        if torn and self.owned:
            keep = b"".join(line + b"\n" for line in lines[:-1] if line.strip())
            atomic_save(path, lambda tmp: Path(tmp).write_bytes(keep))
        return rows

    def require_files(self) -> None:
        """Every file a run folder holds must be a file: a folder in its place is damage."""
        for name in ("config.yaml", "rows.partial.jsonl", "results.json", "report.md",
                     "report.json"):
            p = self.path / name
            if p.exists() and not p.is_file():
                raise ChanposError(f"{p} is not a file; the run folder is damaged (remove it "
                                   "to rebuild it from the finished cells)")

    def has_progress(self) -> bool:
        """True when the folder holds results, finished rows or a checkpoint worth resuming."""
        if self.finished or (self.rows_path.is_file() and self.rows_path.stat().st_size):
            return True
        return any(self.path.glob("**/checkpoints/last.ckpt")) or any(
            self.path.glob("*/rows.partial.jsonl"))

    def remove_resume_files(self, cell_id: str) -> int:
        """Delete a finished cell's resume-only checkpoints (every `last.ckpt` below it);
        returns the bytes freed. Call only once its model.pt and row are on disk."""
        freed = 0
        for ckpt in self.cell_dir(cell_id).glob("**/checkpoints/last.ckpt"):
            freed += ckpt.stat().st_size
            ckpt.unlink()
        return freed

    def size_bytes(self) -> int:
        """Bytes of every file in the folder."""
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def discard(self) -> None:
        """Remove the folder (a fresh run that failed before anything worth resuming)."""
        if self.created:
            self.release()
            shutil.rmtree(self.path, ignore_errors=True)

    def cleanup_temp(self) -> None:
        """Remove a non-zero rank's temporary folder."""
        if not self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def human_size(n: int) -> str:
    """Bytes as '12.3 MB' (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
