"""The audit's report.md and plots."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ...runs.folders import machine_description
from ...runs.reporting import Block, Report, figure, fmt, heading, new_figure, save_figure
from ...verdicts import Verdict, t_interval, verdict_table
from .claims import CLAIMS, SCOPE
from .config import AuditConfig
from .probing import CONTROLS
from .rows import ChannelStage, ProbeReplicate, ReadoutRow, TopKRow

__all__ = ["format_audit", "plot_readout"]

def _mean(values: list[float]) -> str:
    if len(values) < 2:
        return fmt(values[0]) if values else "–"
    return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}"


def _probe_table(reps: list[ProbeReplicate], cfg: AuditConfig, num_classes: int,
                 layer: str) -> list[Block]:
    cells = cfg.cells()
    rows = [("cell, as is", "location", 100 / cells), ("cell, channels shuffled",
                                                       "location_shuffled", 100 / cells),
            ("class, as is", "objects", 100 / num_classes),
            ("class, channels shuffled", "objects_shuffled", 100 / num_classes),
            ("cell, random-weight twin", "random_weights_location", 100 / cells),
            ("cell, circular-padding twin", "circular_location", 100 / cells)]
    lines: list[Block] = [
             heading(2, f"1. Position through global pooling, and channel order "
                        f"({cfg.grid()} canvases)"), "",
             f"Linear probes (multinomial logistic regression, L-BFGS) on the pooled vector of "
             f"`{layer}`: {cfg.probe_samples} training and {cfg.probe_test_samples} test "
             f"canvases per replicate, {len(reps)} replicates (each its own tiles, cells and "
             "fit). 'Shuffled': every vector's channels in a fresh random order, PermuteNet's "
             "view.", "", "| probe | test accuracy % (mean ± sd over replicates) | chance % |",
             "|---|---|---|"]
    for label, field, chance in rows:
        lines.append(f"| {label} | {_mean([getattr(r, field) for r in reps])} | {chance:.1f} |")
    return lines + [""]


def _controls_in_words(reps: list[ProbeReplicate], cfg: AuditConfig, facts: dict[str, Any]
                       ) -> list[Block]:
    """What the controls say about this model, in words: is its position learned or
    architectural, and did the negative control run."""
    trained = statistics.fmean(r.location for r in reps)
    random = statistics.fmean(r.random_weights_location for r in reps)
    if random >= trained - 5.0:
        said = (f"The same architecture with random weights reads the cell as well ({random:.1f} "
                f"% against {trained:.1f} %): position here is architectural (its padding and "
                "pooling), not learned.")
    else:
        said = (f"Its random-weight twin reads the cell at {random:.1f} % against the trained "
                f"model's {trained:.1f} %: training added position.")
    stride, tile = facts.get("total_stride"), facts.get("tile")
    if stride is None:
        neg = ("The negative control could not run: the probed layer's stride along the cell "
               "shifts is not a whole number of pixels on this input, so no cell shift moves "
               "its map by whole positions.")
    elif tile % stride:
        neg = (f"The negative control could not run: the probed layer's total stride ({stride} "
               f"px, measured) does not divide the {tile} px tile, so a shift between cells does "
               "not move the map by whole positions and the circular twin is not exactly "
               "shift-equivariant; probe an earlier layer (--layer) whose stride divides it.")
    else:
        neg = (f"Negative control: the probed layer's stride along the cell shifts is {stride} px "
               f"(measured), "
               f"which divides the {tile} px tile, so the circular-padding twin is exactly "
               "shift-equivariant across cells and must read them at chance.")
    return [said, "", neg, ""]


def _loss(reps: list[ProbeReplicate], a: str, b: str) -> str:
    """'12.3 [10.1, 14.5]': the class points lost to shuffling, mean with its t interval."""
    mean, lo, hi = t_interval([getattr(r, a) - getattr(r, b) for r in reps])
    return f"{mean:+.1f}" + ("" if lo is None else f" [{lo:+.1f}, {hi:+.1f}]")


def semantics_section(reps: list[ProbeReplicate], num_classes: int) -> list[Block]:
    """The class under shuffling: a measurement of the audited model beside the positive
    control (a network trained with the shuffle), not a verdict against the paper."""
    lines: list[Block] = [
        heading(3, "The class under shuffling (a measurement, not a verdict)"), "",
        "The paper's claim that semantics do not live in the channel order is about networks "
        "trained with the channels shuffled (PermuteNet); a model trained normally never had "
        "a reason to keep its class code order-free, so how much class it loses to shuffling "
        "says nothing against the paper. It is measured here beside the same measurement on a "
        "network trained with the shuffle, which shows what an order-free code looks like.",
        "", "| network | class, as is % | class, shuffled % | lost to shuffling (95 % CI) "
        "| chance % |", "|---|---|---|---|---|",
        f"| the audited model | {_mean([r.objects for r in reps])} | "
        f"{_mean([r.objects_shuffled for r in reps])} | "
        f"{_loss(reps, 'objects', 'objects_shuffled')} | {100 / num_classes:.1f} |"]
    if all(r.control_objects is not None for r in reps):
        lines.append(f"| positive control: trained with the shuffle (PermuteNet) | "
                     f"{_mean([r.control_objects for r in reps])} | "
                     f"{_mean([r.control_objects_shuffled for r in reps])} | "
                     f"{_loss(reps, 'control_objects', 'control_objects_shuffled')} | "
                     f"{100 / num_classes:.1f} |")
    else:
        lines += ["", "No positive control was given (--control-checkpoint: a chanpos "
                  "PermuteNet model.pt, e.g. of `chanpos table1 --tasks object`)."]
    return lines + [""]


def _readout_table(rows: list[ReadoutRow], cfg: AuditConfig) -> list[Block]:
    stages = list(dict.fromkeys(r.stage for r in rows))
    lines: list[Block] = [heading(2, "2. Position readout per stage (PosENet)"), "",
             f"A 3x3 convolution without padding, BatchNorm and a sigmoid on the features of "
             f"each stage (resized to {cfg.readout_size}x{cfg.readout_size}; 'all' = every "
             f"stage concatenated), trained on {cfg.readout_samples} images "
             f"({cfg.image_size} px) to draw each map, scored on {cfg.readout_test_samples} "
             "others: SPC (Spearman's rank correlation per image, averaged; '–' = undefined, "
             "the prediction was constant) / MAE.", "",
             "| control | stage | " + " | ".join(cfg.maps) + " |",
             "|---|---|" + "---|" * len(cfg.maps)]
    for control in CONTROLS:
        for stage in stages:
            cells = [r for r in rows if r.control == control and r.stage == stage]
            if not cells:
                continue
            by = {r.map: r for r in cells}
            lines.append(f"| {control} | {stage} | " + " | ".join(
                f"{fmt(by[m].spc, 3)} / {by[m].mae:.3f}" if m in by else "–"
                for m in cfg.maps) + " |")
    return lines + ["", figure("SPC per stage", "readout_spc.png"), ""]


def _channel_tables(stages: list[ChannelStage], topk: list[TopKRow], cfg: AuditConfig
                    ) -> list[Block]:
    lines: list[Block] = [heading(2, "3. Which channels hold position"), "",
             "Flip scores per stage: mean |GAP(f(x)) − GAP(f(flip x))| over the readout's test "
             "images. 'Half mass': the fraction of channels (largest scores first) that holds "
             "half of the total score (0.5 = spread evenly, small = concentrated). 'Stable': how "
             "many of the top channels the rankings of the two halves of those images share (a "
             "ranking that changes with the images it is made on says little).", "",
             "| stage | channels | half mass | top channels (score) | stable |",
             "|---|---|---|---|---|"]
    for s in stages:
        top = ", ".join(f"{c} ({v:.3g})" for c, v in zip(s.top, s.top_scores, strict=True))
        stable = "–" if s.top_overlap is None else f"{s.top_overlap} of {len(s.top)}"
        lines.append(f"| {s.stage} | {s.channels} | {s.half_mass_fraction:.3f} | {top} | "
                     f"{stable} |")
    if topk:
        stage = topk[0].stage
        lines += ["", f"Readout on k = {cfg.top_k} channels of `{stage}`: the top-k "
                  f"flip-ranked vs {cfg.random_draws} random draws of k (SPC, mean over "
                  "draws):", "", "| channels | " + " | ".join(cfg.maps) + " |",
                  "|---|" + "---|" * len(cfg.maps)]
        for kind in ("flip-ranked", "random"):
            cells = [r for r in topk if r.kind == kind]
            values = []
            for m in cfg.maps:
                spcs = [r.spc for r in cells if r.map == m and r.spc is not None]
                values.append(fmt(statistics.fmean(spcs), 3) if spcs else "–")
            lines.append(f"| {kind} | " + " | ".join(values) + " |")
    return lines + [""]


def format_audit(cfg: AuditConfig, facts: dict[str, Any], verdicts: list[Verdict],
                 reps: list[ProbeReplicate], readout: list[ReadoutRow],
                 stages: list[ChannelStage], topk: list[TopKRow]) -> Report:
    """report.md: verdicts, then the three parts."""
    lines: list[Block] = [
        heading(1, f"Audit of `{facts['model']}`: how much position it encodes, where, in "
                   "which channels"),
        "", f"Weights: {facts['origin']} · source `{cfg.source}`"
        f"{'' if cfg.classes is None else f' (its first {cfg.classes} classes)'} · probed layer "
        f"`{facts['layer']}` · stages {', '.join(f'`{s}`' for s in facts['stages'])} · "
        f"{facts['seconds']:.0f} s", f"Normalisation: {facts['normalisation']}",
        f"Readout features stored and multiplied in: {facts.get('readout_precision', 'float32')}",
        f"Machine: {machine_description()}", "",
        "Islam et al., ICCV 2021 (Claim 1: position lives in the channel order of the pooled "
        "vector) and Islam, Jia, Bruce, ICLR 2020 (PosENet readout), asked of this model.",
        "", heading(2, "Verdicts"), "", *verdict_table(verdicts, CLAIMS), "", SCOPE, "",
        "Replicates: the model is fixed (the claims are about it); each replicate draws "
        "its own training and test canvases and fits its own probes, so the interval is "
        "over what the measurement adds: canvas draws and probe fits.", ""]
    if facts.get("training"):
        t = facts["training"]
        fit = t["training"]
        lines += [f"Trained here: {fit['epochs']} epochs of at most {fit['max_epochs']} "
                  f"({'plateaued' if fit['plateaued'] else 'NO plateau'}), test top-1 "
                  f"{t['test_top1_pct']:.1f} %.", "",
                  figure("validation curve of the audited model", "validation_curves.png"), ""]
    lines += _probe_table(reps, cfg, facts["num_classes"], facts["layer"])
    lines += _controls_in_words(reps, cfg, facts)
    lines += semantics_section(reps, facts["num_classes"])
    lines += _readout_table(readout, cfg)
    lines += _channel_tables(stages, topk, cfg)
    return Report(lines)


def plot_readout(rows: list[ReadoutRow], maps: tuple[str, ...], path: Path) -> Path:
    """SPC per stage, one panel per map, one line per control (the image alone: a dot)."""
    stages = [s for s in dict.fromkeys(r.stage for r in rows) if s != "image"]
    fig, axes = new_figure(1, len(maps), (3.2 * len(maps), 3.2))
    for ax, m in zip(axes[0], maps, strict=True):
        for control in CONTROLS[:3]:
            ys = [next((r.spc for r in rows if r.control == control and r.stage == s
                        and r.map == m), None) for s in stages]
            ax.plot(range(len(stages)), [float("nan") if y is None else y for y in ys],
                    marker="o", label=control)
        alone = next((r.spc for r in rows if r.control == "image alone" and r.map == m), None)
        if alone is not None:
            ax.axhline(alone, color="k", ls=":", lw=1, label="image alone")
        ax.set_xticks(range(len(stages)))
        ax.set_xticklabels([s.split(".")[-1] for s in stages], fontsize=7, rotation=30)
        ax.set_ylim(-0.2, 1.0)
        ax.set_title(f"{m}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("SPC")
    axes[0, -1].legend(fontsize=6)
    fig.suptitle("Position readout per stage (SPC; higher = more position)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
