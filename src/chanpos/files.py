"""Atomic file writes with the process umask: a temporary file beside the target, a rename.

Every file chanpos writes (results, reports, plots, checkpoints) goes through `atomic_save`,
so a crash or Ctrl-C never leaves half a file, and files get the permissions `open()` would
give them (mkstemp alone would create them 0600).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["umask_mode", "atomic_save", "atomic_write_text", "set_write_guard", "after_write",
           "CRASH_AFTER", "STALL_AFTER"]

# a check every write makes first (a worker process whose parent is gone stops here)
_guard: Callable[[], None] | None = None
# fault injection for the kill-point tests: "NAME:K" kills this process with SIGKILL right
# after its K-th completed write of a file called NAME (e.g. "last.ckpt:3", "model.pt:1")
CRASH_AFTER = "CHANPOS_CRASH_AFTER"
# the same, but the process sleeps (up to a minute) instead: a signal test sends its signal
# at a known point of the run
STALL_AFTER = "CHANPOS_STALL_AFTER"
_written: dict[str, int] = {}


def set_write_guard(guard: Callable[[], None] | None) -> None:
    """Call `guard()` before every file write of this process (it raises to refuse)."""
    global _guard
    _guard = guard


def _nth_write(spec: str | None, path: str | Path) -> bool:
    """True when this write of `path` is the K-th of the file named in `spec` ("NAME:K")."""
    if not spec:
        return False
    name, _, count = spec.rpartition(":")
    if Path(path).name != name:
        return False
    _written[spec] = _written.get(spec, 0) + 1
    return _written[spec] == int(count)


def after_write(path: str | Path) -> None:
    """Count a completed write; the tests' `CHANPOS_CRASH_AFTER` and `CHANPOS_STALL_AFTER`
    act here."""
    if _nth_write(os.environ.get(CRASH_AFTER), path):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if _nth_write(os.environ.get(STALL_AFTER), path):
        import time

        time.sleep(60)


def umask_mode(mode: int = 0o666) -> int:
    """`mode` with the process umask applied (what `open()` would create)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def atomic_save(path: str | Path, write: Callable[[str], object]) -> Path:
    """Call `write(tmp_path)`, then give the file umask permissions and rename it to `path`."""
    if _guard is not None:
        _guard()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        try:
            write(tmp)
        except RuntimeError as exc:  # torch.save reports a failed write (a full disk) this way
            if "write" not in str(exc).lower():
                raise
            import errno

            raise OSError(errno.ENOSPC, "writing failed (is the disk full?)", str(path)) from None
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    after_write(path)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
