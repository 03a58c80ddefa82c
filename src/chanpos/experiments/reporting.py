"""Shared finishing step of every experiment: results.json, report.md, plots, terminal table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .runs import RunFolder

__all__ = ["finish_run", "save_figure"]


def finish_run(
    folder: RunFolder,
    results: dict[str, Any],
    report: str,
    plots: list[Callable[[Path], Path]] | None = None,
) -> Path:
    """Write plots, then report.md, then results.json last (its presence marks a complete run)."""
    if folder.owned:
        for plot in plots or []:
            plot(folder.path)
        folder.write_text("report.md", report)
        folder.write_json("results.json", results)
    return folder.path


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
