"""Shared report helpers: figures (Agg backend, atomic saves), number formatting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..files import atomic_save

__all__ = ["new_figure", "save_figure", "fmt"]


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (6, 4)) -> tuple[Any, Any]:
    """A matplotlib (figure, axes[rows, cols]) on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size, squeeze=False)


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically as PNG and close it."""
    import matplotlib.pyplot as plt

    atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return Path(path)


def fmt(x: float | None, digits: int = 1) -> str:
    """A number with `digits` decimals, or an en dash for None/NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"
