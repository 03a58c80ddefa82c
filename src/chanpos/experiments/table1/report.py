"""Table 1's verdicts, report.md and bar chart (Islam et al., ICCV 2021, Table 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models.padding import PADDING_MODES
from ..claims import CLAIMS
from ..reporting import fmt, new_figure, save_figure
from ..runs import machine_description
from ..verdicts import Verdict, judge, verdict_table
from .config import Table1Config
from .run import Table1Row

__all__ = ["table1_verdicts", "format_table1", "plot_table1", "table1_results"]

OBJECT_MARGIN = 10.0  # "close" = PermuteNet within this many points of GAPNet (claims.py)


def _sel(rows: list[Table1Row], **match: Any) -> list[Table1Row]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]


def _paired(rows: list[Table1Row], task: str) -> list[float]:
    """Per test canvas, 100 * (GAPNet right − PermuteNet right), zeros padding, every grid."""
    out: list[float] = []
    for g in _sel(rows, model="gapnet", padding="zeros", task=task):
        p = _sel(rows, model="permutenet", padding="zeros", task=task, grid_size=g.grid_size)
        if p and len(p[0].correct) == len(g.correct):
            out += [100.0 * (int(a) - int(b)) for a, b in zip(g.correct, p[0].correct,
                                                            strict=True)]
    return out


def table1_verdicts(rows: list[Table1Row]) -> list[Verdict]:
    """`table1.location` and `table1.object` where both models ran with zero padding.

    Replicates are test canvases, paired (both models see the same canvases), over every grid
    size run.
    """
    out = []
    loc = _paired(rows, "location")
    if loc:
        out.append(judge(CLAIMS["table1.location"], loc, "test canvas"))
    obj = _paired(rows, "object")
    if obj:
        out.append(judge(CLAIMS["table1.object"], [OBJECT_MARGIN - d for d in obj],
                         "test canvas"))
    return out


_PADDING_WHY = {
    "circular": ("With circular padding and cells that move the feature map by whole positions "
                 "(32 px tiles, total stride 16) the network is exactly shift-equivariant, so the "
                 "pooled vector cannot depend on the cell.",
                 "GAPNet is at chance, as that argument predicts.",
                 "GAPNet is above chance here, which the argument does not predict: look at the "
                 "cell counts and the canvas size before trusting it."),
    "none": ("The authors' 'no padding' resizes every conv input instead of padding it.",
             "GAPNet is near chance: without padding this budget found no border signal.",
             "GAPNet still localises: resizing treats border pixels differently from interior "
             "ones, so absolute position leaks without any zero padding."),
    "partial": ("Partial-convolution padding re-weights border outputs instead of mixing in "
                "zeros.", "GAPNet is near chance with it.",
                "GAPNet still localises: the border re-weighting itself marks where the image "
                "ends."),
    "valid": ("Valid (unpadded) convs shrink the maps; tiles near the border are seen by fewer "
              "output positions.", "GAPNet is near chance.", "GAPNet localises."),
    "reflect": ("Reflect padding copies image content into the border.", "", ""),
    "replicate": ("Replicate padding repeats the outermost pixels into the border.", "", ""),
}


def _padding_note(rows: list[Table1Row], padding: str) -> str | None:
    sel = _sel(rows, padding=padding, task="location")
    if not sel or padding not in _PADDING_WHY:
        return None
    parts = ", ".join(f"{r.model} k={r.grid_size}: {r.accuracy_pct:.1f} % (chance "
                      f"{r.chance_pct:.1f} %)" for r in sel)
    near_chance = all(r.accuracy_pct <= r.chance_pct + 10 for r in sel if r.model == "gapnet")
    what, chance_text, above_text = _PADDING_WHY[padding]
    return f"- **{padding}** — {parts}. {what} {chance_text if near_chance else above_text}"


def _task_table(rows: list[Table1Row], cfg: Table1Config, task: str) -> list[str]:
    b = cfg.budget(task)
    sel = _sel(rows, task=task)
    if not sel:
        return []
    label = "cell index" if task == "location" else "source class"
    lines = [f"## {task.capitalize()} task (label = {label}; {b.epochs} epochs, lr {b.lr}, "
             f"{sel[0].train_samples} training tiles, {len(sel[0].correct)} test canvases)", "",
             "| grid | padding | " + " | ".join(f"{m} acc %" for m in cfg.models) + " | chance % |",
             "|---|---|" + "---|" * len(cfg.models) + "---|"]
    keys = sorted({(r.grid_size, r.padding) for r in sel},
                  key=lambda t: (t[0], PADDING_MODES.index(t[1])))
    for k, pad in keys:
        accs = [fmt(hit[0].accuracy_pct) if (hit := _sel(sel, grid_size=k, padding=pad, model=m))
                else "–" for m in cfg.models]
        chance = _sel(sel, grid_size=k, padding=pad)[0].chance_pct
        lines.append(f"| {k}x{k} | {pad} | " + " | ".join(accs) + f" | {chance:.1f} |")
    return lines + [""]


def format_table1(rows: list[Table1Row], cfg: Table1Config, verdicts: list[Verdict],
                  seconds: float) -> str:
    """report.md: the verdict table first, then our tables by task and the padding notes."""
    lines = [
        "# Table 1 — position information through global average pooling",
        "",
        "Islam et al., ICCV 2021, Table 1: GAPNet (no fully connected layer) vs PermuteNet "
        "(pooled channels shuffled at every pass) on the grid setting.",
        "",
        f"Profile `{cfg.profile}` · source `{cfg.source}` · width {cfg.width} · seed {cfg.seed} · "
        f"batch {cfg.batch_size} · Adam betas (0.5, 0.999) · {len(rows)} cells in {seconds:.0f} s "
        f"({cfg.jobs} at a time, {cfg.threads} thread{'s' if cfg.threads > 1 else ''} each)",
        f"Machine: {machine_description()}",
        "",
        "## Verdicts",
        "",
        *(verdict_table(verdicts, CLAIMS) if verdicts else
          ["(no claim measured: both models with zeros padding are needed)"]),
        "",
    ]
    for task in cfg.tasks:
        lines += _task_table(rows, cfg, task)
    notes = [n for n in (_padding_note(rows, p) for p in PADDING_MODES if p != "zeros") if n]
    lines += ["## Paddings other than zeros", "", *(notes or ["(only zero padding was run)"]), "",
              "PermuteNet draws a new channel permutation at every forward pass, so its linear "
              "layer can only use order-free statistics of the pooled vector; any accuracy above "
              "chance comes from those.", "", "![Table 1 bar chart](table1.png)", ""]
    return "\n".join(lines)


def plot_table1(rows: list[Table1Row], path: Path) -> Path:
    """Bar chart: accuracy per (grid, padding), one bar per model, chance as a dashed line."""
    tasks = [t for t in ("location", "object") if _sel(rows, task=t)]
    fig, axes = new_figure(1, len(tasks), (6 * len(tasks), 4))
    for ax, task in zip(axes[0], tasks, strict=True):
        sel = _sel(rows, task=task)
        keys = sorted({(r.grid_size, r.padding) for r in sel},
                      key=lambda t: (t[0], PADDING_MODES.index(t[1])))
        models = sorted({r.model for r in sel})
        width = 0.8 / len(models)
        for j, m in enumerate(models):
            ys = [(_sel(sel, grid_size=k, padding=p, model=m) or [None])[0] for k, p in keys]
            ax.bar([i + j * width for i in range(len(keys))],
                   [y.accuracy_pct if y else 0 for y in ys], width, label=m)
        for i, (k, p) in enumerate(keys):
            chance = _sel(sel, grid_size=k, padding=p)[0].chance_pct
            ax.hlines(chance, i - 0.1, i + 0.8, colors="k", linestyles="dashed", linewidth=1)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))])
        ax.set_xticklabels([f"{k}x{k}\n{p}" for k, p in keys], fontsize=8)
        ax.set_ylim(0, 122)  # headroom so the legend never covers a 100 % bar
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("test accuracy %")
        ax.set_title(f"{task} task (dashed: chance)")
        ax.legend(loc="upper center", ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)


def table1_results(rows: list[Table1Row], cfg: Table1Config, verdicts: list[Verdict],
                   seconds: float) -> dict[str, Any]:
    """The results.json document."""
    return {"experiment": "table1", "profile": cfg.profile, "config": cfg,
            "machine": machine_description(), "seconds": round(seconds, 1),
            "rows": [r.as_dict() for r in rows], "verdicts": [v.as_dict() for v in verdicts]}
