"""What the run-framework tests share: a tiny two-cell Table 1 run and how to start it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from chanpos.cli import app

# two cells of three epochs (no plateau can stop them earlier: the window is longer)
TINY = ["--models", "gapnet,permutenet", "--paddings", "zeros", "--grid-sizes", "2",
        "--tasks", "location", "--location-train-samples", "96", "--val-samples", "16",
        "--test-samples", "40", "--max-epochs", "3", "--patience", "10", "--seeds", "0",
        "--width", "4", "--batch-size", "16", "--bn-batches", "1", "--accelerator", "cpu",
        "--no-progress"]


def run(args: list[str]):
    """The CLI in this process."""
    return CliRunner().invoke(app, args)


def env(**extra: str) -> dict[str, str]:
    """This process's environment, quiet, with `extra`."""
    return dict(os.environ, PYTHONWARNINGS="ignore", **extra)


def _default_sigint() -> None:
    # a background job (CI started with `&`) inherits SIGINT ignored; Ctrl-C tests need it back
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(args: list[str], **extra: str) -> subprocess.Popen:
    """`python -m chanpos ARGS` as a child process (text pipes)."""
    return subprocess.Popen([sys.executable, "-m", "chanpos", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env(**extra),
                            preexec_fn=_default_sigint)


def _timeless(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _timeless(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [_timeless(v) for v in obj]
    return obj


def rows(folder: Path) -> list[dict]:
    """results.json's rows without any wall-clock `seconds` (at any depth)."""
    return _timeless(json.loads((Path(folder) / "results.json").read_text())["rows"])


def only_folder(out: Path) -> Path:
    """The one run folder under `out`."""
    (folder,) = [p for p in Path(out).iterdir() if p.is_dir()]
    return folder


# the same run, one cell after another in this process's children
TINY1 = [*TINY, "--jobs", "1"]
