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

__all__ = ["umask_mode", "atomic_save", "atomic_write_text"]


def umask_mode(mode: int = 0o666) -> int:
    """`mode` with the process umask applied (what `open()` would create)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def atomic_save(path: str | Path, write: Callable[[str], object]) -> Path:
    """Call `write(tmp_path)`, then give the file umask permissions and rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
