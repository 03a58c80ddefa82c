"""Table 2's summary, verdicts, report.md and scatter plot (Islam et al., ICCV 2021, Table 2)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ...runs.folders import machine_description
from ...runs.reporting import (
    Block,
    Report,
    figure,
    heading,
    new_figure,
    plot_validation_curves,
    save_figure,
)
from ...verdicts import Verdict, t_interval, verdict_table
from .claims import CLAIMS, paired
from .config import TABLE2_METHODS, Table2Config
from .rows import Table2Row

__all__ = ["PAPER_TABLE2", "summarise_table2", "format_table2", "plot_table2",
           "plot_table2_curves", "table2_results"]

# The paper's Table 2 (ResNet-18), consistency in percent: baseline -> AugShift.
PAPER_TABLE2: dict[str, tuple[float, float]] = {"cifar10": (90.8, 94.8), "cifar100": (70.1, 85.6)}


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise_table2(rows: list[Table2Row]) -> list[dict[str, Any]]:
    """Mean ± sample std over seeds per (source, method), in row order."""
    keys = list(dict.fromkeys((r.source, r.method) for r in rows))
    out = []
    for source, method in keys:
        sel = [r for r in rows if r.source == source and r.method == method]
        top1 = [r.top1_pct for r in sel]
        cons = [r.consistency_pct for r in sel]
        out.append({
            "source": source, "method": method, "seeds": [r.seed for r in sel],
            "epochs": [r.training.epochs for r in sel],
            "plateaued": [r.training.plateaued for r in sel],
            "top1_mean": round(statistics.fmean(top1), 2), "top1_std": round(_sd(top1), 2),
            "consistency_mean": round(statistics.fmean(cons), 2),
            "consistency_std": round(_sd(cons), 2),
            "seconds_mean": round(statistics.fmean([r.seconds for r in sel]), 1),
        })
    return out


def _pm(mean: float, std: float, n: int) -> str:
    return f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"


def _ci_text(values: list[float]) -> str:
    mean, lo, hi = t_interval(values)
    return f"{mean:+.2f}" + ("" if lo is None else f" [{lo:+.2f}, {hi:+.2f}]")


def _source_section(rows: list[Table2Row], summary: list[dict[str, Any]], cfg: Table2Config,
                    source: str) -> list[Block]:
    sel = [s for s in summary if s["source"] == source]
    n_train = "all" if cfg.train_samples is None else str(cfg.train_samples)
    lines: list[Block] = [heading(2, f"{source} ({n_train} training images)"), "",
             "| method | epochs per seed ('!' = no plateau) | top-1 % (mean ± std) | consistency % "
             "| seconds/run |", "|---|---|---|---|---|"]
    for s in sel:
        n = len(s["seeds"])
        epochs = " ".join(f"{e}{'' if ok else '!'}" for e, ok in zip(s["epochs"], s["plateaued"],
                                                                     strict=True))
        lines.append(f"| {s['method']} | {epochs} | {_pm(s['top1_mean'], s['top1_std'], n)} "
                     f"| {_pm(s['consistency_mean'], s['consistency_std'], n)} | "
                     f"{s['seconds_mean']:.0f} |")
    lines += ["", "Paired differences over seeds, mean [95 % t interval], points:", ""]
    for other in ("baseline", "baseline-2x", "blurpool"):
        for metric, label in (("consistency_pct", "consistency"), ("top1_pct", "top-1")):
            diffs = paired(rows, source, "augshift", other, metric)
            if diffs:
                lines.append(f"- augshift − {other}, {label}: {_ci_text(diffs)} "
                             f"(n = {len(diffs)} seeds)")
    if d := paired(rows, source, "blurpool+augshift", "baseline", "consistency_pct"):
        lines.append(f"- blurpool+augshift − baseline, consistency: {_ci_text(d)} "
                     f"(n = {len(d)} seeds)")
    lines += ["", "Per seed:", "", "| method | seed | top-1 % | consistency % |",
              "|---|---|---|---|"]
    lines += [f"| {r.method} | {r.seed} | {r.top1_pct:.2f} | {r.consistency_pct:.2f} |"
              for r in rows if r.source == source]
    return lines + [""]


def _networks(cfg: Table2Config) -> str:
    nets = []
    for source in cfg.sources:
        bb = cfg.backbone_of(source)
        text = (f"paper ResNet-18 (7x7/2 stem, no max-pool), width {cfg.width}"
                if bb == "paper_resnet18" else f"torchvision {bb} (7x7/2 stem + max-pool)")
        nets.append(f"{source}: {text}" if len(cfg.sources) > 1 else text)
    return "; ".join(nets)


def format_table2(rows: list[Table2Row], cfg: Table2Config, verdicts: list[Verdict],
                  seconds: float) -> Report:
    """report.md: verdicts, protocol, mean ± std per method, paired differences, per-seed rows."""
    summary = summarise_table2(rows)
    lines: list[Block] = [
        heading(1, "Table 2 — AugShift: a loss that makes the pooled latent shift-invariant"),
        "",
        f"Profile `{cfg.profile}` · {_networks(cfg)} · {cfg.stopping_rule()}, on "
        f"{cfg.val_samples} validation images held out of the training split · batch "
        f"{cfg.batch_size} · {cfg.optimizer} lr {cfg.lr} "
        f"({cfg.schedule}), weight decay {cfg.weight_decay} · AugShift lambda {cfg.lam} · "
        f"BlurPool {cfg.blur_size} taps (kornia BlurPool2D) · seeds "
        f"{', '.join(map(str, cfg.seeds))} · {len(rows)} runs in {seconds:.0f} s "
        f"({cfg.jobs} at a time, {cfg.threads} thread{'s' if cfg.threads > 1 else ''} each)",
        f"Machine: {machine_description()}",
        "",
        heading(2, "Verdicts"),
        "",
        *(verdict_table(verdicts, CLAIMS) if verdicts else
          ["(no claim measured: augshift and baseline (or baseline-2x) must both run)"]),
        "",
        f"**Shift protocol (consistency):** {cfg.protocol()}. Training crops use the same "
        f"shifts (max {cfg.max_shift} px, {cfg.shift_mode} padding) plus a random horizontal "
        "flip; AugShift draws two of them per image.",
        "",
        "**Methods:** `baseline` = cross-entropy on one shifted+flipped view; `augshift` = "
        f"CE(view 1) + CE(view 2) + {cfg.lam} x MSE(z1, z2) on the pooled latents of two views; "
        f"`blurpool` = every stride-2 step anti-aliased with kornia's `BlurPool2D` "
        f"({cfg.blur_size}-tap binomial, Zhang 2019); `blurpool+augshift` = both; "
        "`baseline-2x` = the baseline seeing every image twice per epoch (AugShift's number of "
        "image forwards per epoch, under the same plateau rule). A seed fixes the initial "
        "weights and the data order of every method "
        f"(paired replicates). BatchNorm statistics are re-estimated on {cfg.bn_batches} "
        "training batches after training (0 = off).",
        "",
    ]
    for source in cfg.sources:
        lines += _source_section(rows, summary, cfg, source)
    lines += [heading(2, "The paper's numbers beside ours"), "",
              "| data set | who | baseline consistency % | AugShift consistency % | change |",
              "|---|---|---|---|---|"]
    for src, (b, a) in PAPER_TABLE2.items():
        lines.append(f"| {src} | paper (ResNet-18) | {b} | {a} | {a - b:+.1f} |")
    for source in cfg.sources:
        by = {s["method"]: s for s in summary if s["source"] == source}
        if "baseline" in by and "augshift" in by:
            base, aug = by["baseline"], by["augshift"]
            n = len(base["seeds"])
            lines.append(f"| {source} | ours ({n} seeds) | "
                         f"{_pm(base['consistency_mean'], base['consistency_std'], n)} | "
                         f"{_pm(aug['consistency_mean'], aug['consistency_std'], n)} | "
                         f"{aug['consistency_mean'] - base['consistency_mean']:+.2f} |")
    lines += ["", "Built-in data is not CIFAR: compare the direction and size of the change, "
              "not the absolute numbers.", "", figure("accuracy vs consistency", "table2.png"), "",
              figure("validation curves", "validation_curves.png"), ""]
    return Report(lines)


def plot_table2(rows: list[Table2Row], path: Path) -> Path:
    """Scatter: top-1 (x) vs consistency (y), one colour per method; seeds small, means large."""
    summary = summarise_table2(rows)
    sources = list(dict.fromkeys(r.source for r in rows))
    fig, axes = new_figure(1, len(sources), (5.5 * len(sources), 4.2))
    colours = dict(zip(TABLE2_METHODS, ("tab:gray", "tab:red", "tab:blue", "tab:purple",
                                        "tab:olive"), strict=True))
    for ax, source in zip(axes[0], sources, strict=True):
        for s in (x for x in summary if x["source"] == source):
            c = colours.get(s["method"], "k")
            sel = [r for r in rows if r.source == source and r.method == s["method"]]
            ax.scatter([r.top1_pct for r in sel], [r.consistency_pct for r in sel], s=14,
                       color=c, alpha=0.5)
            ax.errorbar(s["top1_mean"], s["consistency_mean"], xerr=s["top1_std"],
                        yerr=s["consistency_std"], fmt="o", ms=8, color=c, capsize=3,
                        label=s["method"])
        ax.set_xlabel("top-1 accuracy %")
        ax.set_ylabel("shift consistency %")
        ax.set_title(f"{source}: accuracy vs consistency\n(mean ± std over seeds; dots = seeds)",
                     fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def table2_results(rows: list[Table2Row], cfg: Table2Config, verdicts: list[Verdict],
                   seconds: float) -> dict[str, Any]:
    """The results.json document: rows, mean ± std per method, verdicts, protocol."""
    return {
        "experiment": "table2", "profile": cfg.profile, "config": cfg,
        "machine": machine_description(), "seconds": round(seconds, 1),
        "shift_protocol": {"max_shift": cfg.max_shift, "shift_mode": cfg.shift_mode,
                           "pairs": cfg.pairs, "seed": cfg.eval_seed,
                           "description": cfg.protocol()},
        "rows": rows, "summary": summarise_table2(rows),
        "paper": {k: {"baseline_consistency_pct": b, "augshift_consistency_pct": a}
                  for k, (b, a) in PAPER_TABLE2.items()},
        "verdicts": [v.as_dict() for v in verdicts],
    }


def plot_table2_curves(rows: list[Table2Row], path: Path) -> Path:
    """Validation top-1 per epoch of every run, one panel per method."""
    groups = {f"{r.source} {r.method}": [] for r in rows}
    for r in rows:
        groups[f"{r.source} {r.method}"].append((f"seed {r.seed}", r.training))
    return plot_validation_curves(groups, path, ylabel="validation top-1 %")
