"""The attack's figures: mIoU vs N (Figure 4), region drops (Figure 6), examples (Figure 5)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ...runs.reporting import new_figure, plot_validation_curves, save_figure
from .rows import AttackModelRow

__all__ = ["plot_attack_curve", "plot_attack_regions", "plot_attack_examples",
           "plot_attack_curves_of_training"]


def plot_attack_curve(models: list[AttackModelRow], mean: list[dict[str, Any]], path: Path) -> Path:
    """mIoU vs N: every model's ranked and random curves (thin), their means (thick), controls."""
    fig, axes = new_figure(1, 1, (6.5, 4.2))
    ax = axes[0, 0]
    ns = [p["n"] for p in mean]
    for m in models:
        ax.plot(ns, [p.miou for p in m.curves.ranked], color="tab:red", lw=0.7, alpha=0.4)
        ax.plot(ns, [p.miou_mean for p in m.curves.random], color="0.4", lw=0.7, alpha=0.4)
    ax.plot(ns, [p["random"][0] for p in mean], color="0.3", marker="o", label="random (mean)")
    ax.plot(ns, [p["ranked"][0] for p in mean], color="tab:red", marker="o", label="flip-ranked")
    ax.plot(ns, [p["magnitude"][0] for p in mean], color="tab:blue", ls="--", marker="s",
            label="magnitude")
    ax.plot(ns, [p["least"][0] for p in mean], color="tab:green", ls=":", marker="^",
            label="least flip-sensitive")
    ax.plot(ns, [p["importance"][0] for p in mean], color="tab:purple", ls="-.", marker="v",
            label="measured importance (control)")
    c = models[0].num_channels
    ax.axvline(c / 4, color="k", lw=0.8, ls="--")
    ax.set_xlabel(f"N channels zeroed (of C = {c}; dashed: C/4)")
    ax.set_ylabel("validation mIoU %")
    ax.set_title(f"Figure 4: zeroing head-input channels ({len(models)} model"
                 f"{'s' if len(models) > 1 else ''}; thin: each model)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_attack_regions(models: list[AttackModelRow], path: Path) -> Path:
    """Per region N: each half's mIoU drop (mean over models) for left/right-specific channels
    beside random channels (mean of the draw means, error bar: sd over models)."""
    ns = sorted({r.n for r in models[0].regions})
    fig, axes = new_figure(1, max(1, len(ns)), (4.5 * max(1, len(ns)), 3.6))
    halves = ["left", "right"]
    xs = range(len(halves))

    def stat(key: tuple[str, str], n: int, field: str) -> tuple[float, float]:
        vals = [getattr(m.region(key[0], key[1], n), field) for m in models]
        return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0

    for ax, n in zip(axes[0], ns, strict=False):
        sets = [("left channels", "left", "tab:orange"), ("right channels", "right", "tab:purple"),
                ("left importance (control)", "importance:left", "tab:brown")]
        w = 0.2
        for j, (label, side, colour) in enumerate(sets):
            vals = [stat((side, h), n, "drop") for h in halves]
            ax.bar([x + j * w for x in xs], [v[0] for v in vals], w,
                   yerr=[v[1] for v in vals], color=colour, capsize=3, label=label)
        vals = [stat(("left", h), n, "random_drop_mean") for h in halves]
        ax.bar([x + 3 * w for x in xs], [v[0] for v in vals], w,
               yerr=[v[1] for v in vals], color="0.6", capsize=3, label="random")
        ax.set_xticks([x + 1.5 * w for x in xs])
        ax.set_xticklabels([f"{h} half" for h in halves])
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel("mIoU drop (points)")
        ax.set_title(f"Figure 6: N = {n} (mean over models)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_attack_examples(examples: dict[str, Any], path: Path) -> Path:
    """Figure 5: image, ground truth, predictions with the top-N ranked channels zeroed."""
    images, labels, preds = examples["images"], examples["labels"], examples["preds"]
    palette = torch.tensor(list(examples["palette"]) + [(0, 0, 0)], dtype=torch.uint8)
    ignore = examples["ignore_index"]

    def colour(t: Tensor) -> Tensor:
        t = t.long().clone()
        t[t == ignore] = len(palette) - 1
        return palette[t.clamp(0, len(palette) - 1)]

    ns = list(preds)
    rows, cols = images.shape[0], 2 + len(ns)
    aspect = images.shape[-1] / images.shape[-2]
    fig, axes = new_figure(rows, cols, (1.6 * aspect * cols, 1.7 * rows))
    for i in range(rows):
        panels = [images[i].permute(1, 2, 0), colour(labels[i])] + [colour(preds[n][i]) for n in ns]
        titles = ["image", "ground truth"] + [f"N = {n}" for n in ns]
        for j, (panel, title) in enumerate(zip(panels, titles, strict=True)):
            axes[i, j].imshow(panel.numpy())
            axes[i, j].axis("off")
            if i == 0:
                axes[i, j].set_title(title, fontsize=8)
    fig.suptitle("Figure 5: predictions with the top-N flip-ranked channels zeroed", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_attack_curves_of_training(models: list[AttackModelRow], path: Path) -> Path:
    """Validation curves of every model's pretraining (top-1) and training (mIoU)."""
    groups = {"pretraining (validation top-1 %)": [
                  (f"seed {m.seed}", m.pretrain.training) for m in models if m.pretrain],
              "segmentation training (validation mIoU %)": [
                  (f"seed {m.seed}", m.training) for m in models if m.training]}
    return plot_validation_curves(groups, path, ylabel="validation metric %")
