"""Shared report helpers: figures (Agg backend, atomic saves), number formatting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..files import atomic_save

__all__ = ["new_figure", "save_figure", "fmt", "plot_validation_curves"]


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


def plot_validation_curves(groups: dict[str, list[tuple[str, tuple[float, ...]]]], path: Path,
                           *, ylabel: str = "validation accuracy %") -> Path:
    """One panel per group: every model's validation metric after each epoch (the curves the
    plateau rule watched); a dot marks where a model stopped."""
    groups = {k: v for k, v in groups.items() if any(h for _, h in v)} or {"(none)": []}
    fig, axes = new_figure(1, len(groups), (4.6 * len(groups), 3.6))
    for ax, (title, series) in zip(axes[0], groups.items(), strict=True):
        for label, history in series:
            if history:
                xs = range(1, len(history) + 1)
                (line,) = ax.plot(xs, history, lw=1, label=label)
                ax.plot([len(history)], [history[-1]], "o", ms=3, color=line.get_color())
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        if 0 < len(series) <= 12:
            ax.legend(fontsize=6)
    fig.suptitle("Validation curves (held-out training images); dots: where training stopped",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
