"""Reports and figures: a report is a list of blocks (text lines, headings, figures) that
renders to Markdown and nests inside another report (a composite run's) by structure, never by
editing its text; figures on the Agg backend, saved atomically; number formatting."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..files import atomic_save

__all__ = ["Heading", "Figure", "Block", "Report", "heading", "figure", "new_figure",
           "save_figure", "fmt", "plot_validation_curves"]


@dataclass(frozen=True)
class Heading:
    """A section heading (level 1 = the report's title)."""

    level: int
    text: str


@dataclass(frozen=True)
class Figure:
    """An image of the run folder (`file` relative to the report's folder)."""

    alt: str
    file: str


Block = Union[str, Heading, Figure]  # noqa: UP007 (runtime alias)


def heading(level: int, text: str) -> Heading:
    """A heading block."""
    return Heading(level, text)


def figure(alt: str, file: str) -> Figure:
    """A figure block."""
    return Figure(alt, file)


@dataclass
class Report:
    """A report's blocks: `render()` is report.md; `render(depth=1, base="table1/")` the same
    report as a section of a composite report whose folder holds it as `table1/`."""

    blocks: list[Block] = field(default_factory=list)

    def __add__(self, more: Iterable[Block]) -> Report:
        return Report([*self.blocks, *more])

    def nested(self, depth: int, base: str) -> list[Block]:
        """The blocks as a section of another report: headings `depth` levels deeper, figure
        files under `base` (the folder holding this report, relative to the other one)."""
        return [Heading(b.level + depth, b.text) if isinstance(b, Heading)
                else Figure(b.alt, base + b.file) if isinstance(b, Figure) else b
                for b in self.blocks]

    def render(self, *, depth: int = 0, base: str = "", figures: bool = True) -> str:
        """Markdown; headings `depth` levels deeper, figure files prefixed with `base`."""
        lines = []
        for b in self.blocks:
            if isinstance(b, Heading):
                lines.append("#" * min(6, b.level + depth) + " " + b.text)
            elif isinstance(b, Figure):
                if figures:
                    lines.append(f"![{b.alt}]({base}{b.file})")
            else:
                lines.append(b)
        return "\n".join(lines) + "\n"

    def to_plain(self) -> list[Any]:
        """JSON data: strings, {"heading": level, "text"} and {"figure": file, "alt"}."""
        return [b if isinstance(b, str) else {"heading": b.level, "text": b.text}
                if isinstance(b, Heading) else {"figure": b.file, "alt": b.alt}
                for b in self.blocks]

    @classmethod
    def from_plain(cls, data: list[Any]) -> Report:
        """Inverse of `to_plain`; anything else raises ValueError."""
        if not isinstance(data, list):
            raise ValueError("a report is a list of blocks")
        blocks: list[Block] = []
        for b in data:
            if isinstance(b, str):
                blocks.append(b)
            elif isinstance(b, dict) and isinstance(b.get("heading"), int):
                blocks.append(Heading(b["heading"], str(b["text"])))
            elif isinstance(b, dict) and isinstance(b.get("figure"), str):
                blocks.append(Figure(str(b.get("alt", "")), b["figure"]))
            else:
                raise ValueError(f"not a report block: {b!r}")
        return cls(blocks)


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


def plot_validation_curves(groups: dict[str, list[tuple[str, Any]]], path: Path,
                           *, ylabel: str = "validation accuracy %") -> Path | None:
    """One panel per group: every model's validation metric after each epoch (the curves the
    plateau rule watched), from each (label, FitResult); an x marks each epoch where the rule
    fired (a candidate plateau), a dot where training ended (the first epoch on the plateau
    its continuation confirmed, or the epoch maximum). Nothing is drawn (None) when no model
    was trained here."""
    groups = {k: v for k, v in groups.items() if any(fit.history for _, fit in v)}
    if not groups:
        return None
    fig, axes = new_figure(1, len(groups), (4.6 * len(groups), 3.6))
    for ax, (title, series) in zip(axes[0], groups.items(), strict=True):
        for label, fit in series:
            history = fit.history
            if history:
                xs = range(1, len(history) + 1)
                (line,) = ax.plot(xs, history, lw=1, label=label)
                colour = line.get_color()
                ax.plot([len(history)], [history[-1]], "o", ms=3, color=colour)
                fired = [e for e in getattr(fit, "fired", ()) if 1 <= e <= len(history)]
                ax.plot(fired, [history[e - 1] for e in fired], "x", ms=5, color=colour)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        if 0 < len(series) <= 12:
            ax.legend(fontsize=6)
    # two lines: one panel is narrower than the whole caption
    fig.suptitle("Validation curves (held-out training images)\nx: the plateau rule fired; "
                 "dot: training ended", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
