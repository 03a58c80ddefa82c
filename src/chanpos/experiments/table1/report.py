"""Table 1's report.md, results.json and plots (Islam et al., ICCV 2021, Table 1)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ...names import PADDING_MODES
from ...runs.folders import machine_description
from ...runs.reporting import (
    Block,
    Report,
    figure,
    fmt,
    heading,
    new_figure,
    plot_validation_curves,
    save_figure,
)
from ...verdicts import Verdict, verdict_table
from .claims import CLAIMS
from .config import Table1Config
from .rows import Table1Row
from .rows import select as _sel

__all__ = ["format_table1", "plot_table1", "plot_table1_curves", "table1_results"]

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


def _mean_acc(rows: list[Table1Row]) -> float:
    """Mean test accuracy over the seeds of one (task, grid, padding, model)."""
    return statistics.fmean(r.accuracy_pct for r in rows)


def _groups(rows: list[Table1Row]) -> list[tuple[str, int, str, str]]:
    """(task, grid, padding, model) in table order."""
    return list(dict.fromkeys((r.task, r.grid_size, r.padding, r.model) for r in rows))


def _padding_note(rows: list[Table1Row], padding: str) -> str | None:
    sel = _sel(rows, padding=padding, task="location")
    if not sel or padding not in _PADDING_WHY:
        return None
    groups = _groups(sel)
    means = {g: _mean_acc(_sel(sel, grid_size=g[1], model=g[3])) for g in groups}
    chance = {g: _sel(sel, grid_size=g[1])[0].chance_pct for g in groups}
    parts = ", ".join(f"{g[3]} k={g[1]}: {means[g]:.1f} % (chance {chance[g]:.1f} %)"
                      for g in groups)
    near_chance = all(means[g] <= chance[g] + 10 for g in groups if g[3] == "gapnet")
    what, chance_text, above_text = _PADDING_WHY[padding]
    return f"- **{padding}** — {parts}. {what} {chance_text if near_chance else above_text}"


def _task_table(rows: list[Table1Row], cfg: Table1Config, task: str) -> list[Block]:
    sel = _sel(rows, task=task)
    if not sel:
        return []
    label = "cell index" if task == "location" else _classes(cfg)
    lines: list[Block] = [
             heading(2, f"{task.capitalize()} task (label = {label}; lr {cfg.lr(task)}, "
                     f"batch {cfg.task_batch_size(task)}{_averaging(cfg, task)}, "
                     f"{sel[0].train_samples} training tiles, {sel[0].val_samples} validation "
                     f"tiles, {len(sel[0].correct)} test canvases)"), "",
             f"Test accuracy, mean over {len(cfg.seeds)} seed{'s' if len(cfg.seeds) > 1 else ''}"
             " (per seed in brackets: accuracy/epochs trained, '!' = no plateau).", "",
             "| grid | padding | " + " | ".join(f"{m} acc %" for m in cfg.models)
             + " | chance % |", "|---|---|" + "---|" * len(cfg.models) + "---|"]
    keys = sorted({(r.grid_size, r.padding) for r in sel},
                  key=lambda t: (t[0], PADDING_MODES.index(t[1])))
    for k, pad in keys:
        accs = []
        for m in cfg.models:
            hit = _sel(sel, grid_size=k, padding=pad, model=m)
            seeds = " ".join(f"{r.accuracy_pct:.0f}/{r.training.epochs}"
                             f"{'' if r.training.plateaued else '!'}" for r in hit)
            accs.append(f"{fmt(_mean_acc(hit))} ({seeds})" if hit else "–")
        chance = _sel(sel, grid_size=k, padding=pad)[0].chance_pct
        lines.append(f"| {k}x{k} | {pad} | " + " | ".join(accs) + f" | {chance:.1f} |")
    return lines + [""]


def _object_batch(cfg: Table1Config) -> str:
    """The object task's own batch size, when it has one."""
    size = cfg.task_batch_size("object")
    return f" (object task {size})" if "object" in cfg.tasks and size != cfg.batch_size else ""


def _classes(cfg: Table1Config) -> str:
    """What the object task's label is: every class of the source, or its first N."""
    if cfg.object_classes is None:
        return "source class"
    return (f"source class, the first {cfg.object_classes} of {cfg.source}'s classes only "
            f"(chance {100 / cfg.object_classes:.0f} %)")


def _averaging(cfg: Table1Config, task: str) -> str:
    """How the validated and kept weights of `task` are made, when not the last step's."""
    decay = cfg.task_weight_average(task)
    if not decay:
        return ""
    return f", weights: moving average (decay {decay:g} per step)"


def _rules(cfg: Table1Config) -> str:
    """The plateau rule of each task, once per distinct rule."""
    rules = {t: cfg.task_rule(t) for t in cfg.tasks}
    if len(set(rules.values())) == 1:
        return next(iter(rules.values()))
    return "; ".join(f"{task} task: {rule}" for task, rule in rules.items())


def format_table1(rows: list[Table1Row], cfg: Table1Config, verdicts: list[Verdict],
                  seconds: float) -> Report:
    """report.md: the verdict table first, then our tables by task and the padding notes."""
    lines: list[Block] = [
        heading(1, "Table 1 — position information through global average pooling"),
        "",
        "Islam et al., ICCV 2021, Table 1: GAPNet (no fully connected layer) vs PermuteNet "
        "(pooled channels shuffled at every pass) on the grid setting.",
        "",
        f"Profile `{cfg.profile}` · source `{cfg.source}` · width {cfg.width} · seeds "
        f"{', '.join(map(str, cfg.seeds))} · "
        f"batch {cfg.batch_size}{_object_batch(cfg)} · Adam betas (0.5, 0.999) · "
        f"{len(rows)} cells in {seconds:.0f} s "
        f"({cfg.jobs} at a time, {cfg.threads} thread{'s' if cfg.threads > 1 else ''} each)",
        f"Training: {_rules(cfg)}; on {cfg.val_samples} validation tiles held out of the "
        "training split.",
        f"Machine: {machine_description()}",
        "",
        heading(2, "Verdicts"),
        "",
        *(verdict_table(verdicts, CLAIMS) if verdicts else
          ["(no claim measured: both models with zeros padding are needed)"]),
        "",
    ]
    for task in cfg.tasks:
        lines += _task_table(rows, cfg, task)
    notes = [n for n in (_padding_note(rows, p) for p in PADDING_MODES if p != "zeros") if n]
    lines += [heading(2, "Paddings other than zeros"), "",
              *(notes or ["(only zero padding was run)"]), "",
              "PermuteNet draws a new channel permutation at every forward pass (in training one "
              "per batch, as the authors; in evaluation one per image, so an accuracy averages "
              "as many orders as there are images), so its linear layer can only use order-free "
              "statistics of the pooled vector; any accuracy above chance comes from those.", "",
              figure("Table 1 bar chart", "table1.png"), "",
              figure("validation curves", "validation_curves.png"), ""]
    return Report(lines)


def plot_table1_curves(rows: list[Table1Row], path: Path) -> Path:
    """Validation accuracy per epoch of every cell, one panel per task."""
    groups = {f"{task} task": [(f"{r.model} k={r.grid_size} {r.padding} s{r.seed}",
                                r.training)
                               for r in _sel(rows, task=task)] for task in ("location", "object")}
    return plot_validation_curves(groups, path)


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
            hits = [_sel(sel, grid_size=k, padding=p, model=m) for k, p in keys]
            xs = [i + j * width for i in range(len(keys))]
            ax.bar(xs, [_mean_acc(h) if h else 0 for h in hits], width, label=m)
            for x, h in zip(xs, hits, strict=True):  # every seed as a dot
                ax.plot([x] * len(h), [r.accuracy_pct for r in h], "k.", ms=3)
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
            "rows": rows, "verdicts": [v.as_dict() for v in verdicts]}
