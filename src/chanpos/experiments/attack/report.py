"""The attack's report.md and results.json (Islam et al., ICCV 2021, Figures 4-6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models import ModelSpec
from ...names import CALLER_SOURCE
from ...runs.folders import machine_description
from ...runs.reporting import Block, Report, figure, fmt, heading
from ...verdicts import Verdict, verdict_table
from .claims import CLAIM_SIDE, CLAIMS, figure4_effects, figure6_effects
from .config import NO_PRETRAIN, AttackConfig
from .rows import AttackModelRow, importance_set

__all__ = ["format_attack", "attack_results"]


def _where(cfg: AttackConfig) -> str:
    if cfg.rank_where:
        cls, side = cfg.rank_where.split(":")
        return f", those with {cls} mostly on the {side}"
    if cfg.rank_images:
        return f", listed in {Path(cfg.rank_images).name}"
    return ""


def _network_setting(cfg: AttackConfig, spec: ModelSpec, network: Any, first: AttackModelRow
                     ) -> list[str]:
    h, w = spec.meta.image_size
    data = (f"`text`: rendered words (Pillow's scalable font, varied sizes, contrasts, "
            f"backgrounds, blur), {h}x{w}, drawn afresh for every fold"
            if cfg.source == "text" else f"`icdar2015` from {cfg.data_root}, resized to {h}x{w}, "
            "cut into disjoint folds")
    bgr = ", channels reversed to BGR" if network.bgr else ""
    return [f"Profile `{cfg.profile}` · data {data} · network `{spec.name}`: "
            f"{network.description}; attacked as it is (chanpos did not train it). Inputs "
            f"normalised with mean {list(spec.meta.mean)}, std {list(spec.meta.std)}{bgr}. "
            f"Replicates: {len(cfg.model_seeds())} independent folds of images (seeds "
            f"{', '.join(map(str, cfg.model_seeds()))}); each fold ranks on "
            f"{first.rank_images} images of its own (signed ranking: {first.signed_rank_images} "
            + ("images with words in the left half only" if cfg.source == "text" else
               f"images{_where(cfg)}") + ") and is evaluated on images it did not rank on."]


def _detection_table(models: list[AttackModelRow], cfg: AttackConfig) -> list[Block]:
    """Text detection per fold: the unattacked network and the attacked one."""
    if any(m.detection is None for m in models):
        return []
    n4 = max((p.n for p in models[0].detection.ranked if 0 < p.n <= models[0].num_channels / 4),
             default=None)
    nr = max(cfg.region_ns) if cfg.region_ns else None
    lines: list[Block] = [
        "", heading(2, "Text detection (DB boxes, IoU ≥ 0.5), per fold"), "",
        f"DBNet's post-processing (the network's own probability threshold, boxes grown by "
        f"unclip {cfg.unclip:g}); a box belongs to the half holding its centre. Percent.", "",
        f"| fold | precision | recall | F | F left | F right | F, top-{n4} ranked zeroed | "
        f"F, {n4} random zeroed | F left / right, {nr} left channels zeroed |",
        "|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        d = m.detection
        base = d.baseline
        ranked = {p.n: p.f for p in d.ranked}
        rand = {p.n: p.f for p in d.random}
        left = d.left_channels
        lines.append(f"| {m.seed} | {fmt(base['all']['precision'])} | "
                     f"{fmt(base['all']['recall'])} | {fmt(base['all']['f'])} | "
                     f"{fmt(base['left']['f'])} | {fmt(base['right']['f'])} | "
                     f"{fmt(ranked.get(n4))} | {fmt(rand.get(n4))} | "
                     f"{fmt(left.get('left'))} / {fmt(left.get('right'))} |")
    lines += ["", "| N | F ranked (mean over folds) | F random (mean over folds) |",
              "|---|---|---|"]
    for i, p in enumerate(models[0].detection.ranked):
        r = [m.detection.ranked[i].f for m in models]
        q = [m.detection.random[i].f for m in models]
        lines.append(f"| {p.n} | {fmt(sum(r) / len(r))} | {fmt(sum(q) / len(q))} |")
    return lines


def _setting(cfg: AttackConfig, spec: ModelSpec) -> list[str]:
    h, w = spec.meta.image_size or (0, 0)
    data = (f"`{cfg.source}` {cfg.image_size[0]}x{cfg.image_size[1]}"
            + (", road and sidewalk painted alike" if cfg.same_texture else "")
            if cfg.source == "streets" else f"the caller's DataLoaders ({h}x{w})"
            if cfg.source == CALLER_SOURCE else f"`{cfg.source}` (scale {cfg.scale})")
    if cfg.checkpoint:
        how = f"loaded from `{cfg.checkpoint}`"
    else:
        pre = ("from scratch" if cfg.pretrain == NO_PRETRAIN else
               f"backbone pretrained on `{cfg.pretrain}` (at most {cfg.pretrain_max_epochs} "
               "epochs, the same plateau rule)")
        how = (f"{pre}, then trained on {cfg.train_samples or 'all'} images, "
               f"{cfg.optimizer} lr {cfg.lr}, batch {cfg.batch_size}, flip p={cfg.flip_prob}, "
               f"{cfg.stopping_rule()} (mIoU on {cfg.val_samples} validation images held out of "
               f"the training split); one model per seed ({', '.join(map(str, cfg.seeds))}), "
               f"{cfg.jobs} at a time")
    return [f"Profile `{cfg.profile}` · data {data} · model `{spec.name}` {spec.kwargs} "
            f"({how})"]


def _first(values: list[float]) -> float | None:
    return values[0] if values else None


def _epochs(info: Any) -> str:
    if info is None:
        return "–"
    return f"{info.epochs}{'' if info.plateaued else '!'}"


def _model_table(models: list[AttackModelRow]) -> list[str]:
    lines = ["| model seed | pretraining top-1 % (epochs) | epochs | mIoU | random − ranked "
             "(≤ C/4) | random − importance (control) | region effect | region control | "
             "flip-score vs magnitude ρ | train s |", "|---|---|---|---|---|---|---|---|---|---|"]
    side = importance_set(CLAIM_SIDE)
    for m in models:
        pre = m.pretrain
        lines.append(
            f"| {m.seed} | {f'{fmt(pre.test_top1_pct)} ({_epochs(pre.training)})' if pre else '–'} | "
            f"{_epochs(m.training)} | {fmt(m.baseline_miou['all'])} | "
            f"{fmt(_first(figure4_effects(m)), 2)} | "
            f"{fmt(_first(figure4_effects(m, kind='importance')), 2)} | "
            f"{fmt(_first(figure6_effects(m)), 2)} | "
            f"{fmt(_first(figure6_effects(m, channels=side)), 2)} | "
            f"{m.diagnostics.spearman_flip_score_vs_magnitude:.2f} | "
            f"{fmt(m.seconds.get('train'), 0)} |")
    lines += ["", "Epochs: '!' = stopped at the maximum without a plateau."]
    return lines


def _region_table(models: list[AttackModelRow]) -> list[Block]:
    lines: list[Block] = ["", heading(2, "Region attack (Figure 6), mean over models"), "",
              "Drops are each half's mIoU loss against the unattacked model on that half. "
              "'left' channels: largest mean GAP(f(x)) − GAP(f(flip x)); 'right': most negative; "
              "'importance:left': the control, channels whose zeroing hurts the left half most "
              "relative to the right on held-out images.",
              "", "| channels | N | half | drop | random drop (mean ± draw sd) |",
              "|---|---|---|---|---|"]
    for i, r in enumerate(models[0].regions):
        drops = [m.regions[i].drop for m in models]
        rand = [m.regions[i].random_drop_mean for m in models]
        sd = [m.regions[i].random_drop_std for m in models]
        lines.append(f"| {r.channels} | {r.n} | {r.region} | "
                     f"{fmt(sum(drops) / len(drops), 2)} | {fmt(sum(rand) / len(rand), 2)} ± "
                     f"{fmt(sum(sd) / len(sd), 2)} |")
    return lines


def format_attack(models: list[AttackModelRow], mean: list[dict[str, Any]], cfg: AttackConfig,
                  spec: ModelSpec, verdicts: list[Verdict], seconds: float, *,
                  network: Any = None, layer: str = "backbone") -> Report:
    """report.md: verdicts, the per-model table, the mean curve, the region table (and for a
    real network what it is, and its detection metric)."""
    c = models[0].num_channels
    first = models[0]
    why = "" if network is None else (network.layer_reason if layer == network.layer
                                      else "given with --layer")
    where = (f"Attacked layer: `{layer}` ({why}), " if network is not None
             else "Attacked layer: the head input (backbone output), ")
    title = ("Figures 4-6 on a real pretrained network — attacking its position-encoding "
             "channels" if network is not None else
             "Figures 4-6 — attacking the position-encoding channels")
    lines: list[Block] = [
        heading(1, title),
        "",
        "Islam et al., ICCV 2021, Figures 4-6: rank the head input's channels by flip difference "
        "(mean |GAP(f(x)) − GAP(f(flip x))|), zero the top N, compare with N random channels; "
        "zero the left-specific channels (signed ranking) and compare the image halves.",
        "",
        *(_network_setting(cfg, spec, network, first) if network is not None
          else _setting(cfg, spec)),
        f"{where}C = {c} channels. Channels ranked on "
        f"{first.rank_images} {'ranking' if network is not None else 'evaluation'} images "
        f"(signed ranking: {first.signed_rank_images}{_where(cfg)}); mIoU (percent, classes "
        f"present in target or prediction) on the evaluation images at label resolution; "
        f"{cfg.random_draws} random draws per N. Positive control: every channel's measured "
        f"importance (mIoU drop when it alone is zeroed) on {first.importance_images} "
        f"{'images of each fold' if network is not None else 'held-out training images'}, "
        f"never the evaluation images. {len(models)} "
        f"{'fold' if network is not None else 'model'}{'s' if len(models) > 1 else ''} in "
        f"{seconds:.0f} s.",
        *([] if first.training is not None or network is not None else [
            "The attacked model was given (--checkpoint): chanpos did not train it, so its "
            "convergence is not checked."]),
        *([] if network is None else [
            f"Every verdict here is about `{spec.name}` and the images it was attacked on, "
            "not about the paper's DeepLabv3 on Cityscapes: the same question asked of another "
            "network somebody else trained on real data."]),
        f"Machine: {machine_description()}",
        "",
        heading(2, "Verdicts"),
        "",
        *verdict_table(verdicts, CLAIMS),
        "",
        heading(2, "Per model"),
        "",
        *_model_table(models),
        "",
        heading(2, "mIoU with N channels of the head input zeroed (Figure 4), mean ± sd over "
                   "models"),
        "",
        "Random: each model's mean over its draws (the draw sd, averaged over models, in "
        "brackets). Magnitude: the N channels of largest mean activation. Least: the N *least* "
        "flip-sensitive channels. Importance (the positive control): the N channels whose "
        "zeroing alone costs the most mIoU on held-out images.",
        "",
        "| N | ranked | random [draw sd] | magnitude | least | importance | ranked − random |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in mean:
        n = p["n"]
        lines.append(
            f"| {n}{' (≤ C/4)' if 0 < n <= c / 4 else ''} | {fmt(p['ranked'][0])} ± "
            f"{fmt(p['ranked'][1])} | {fmt(p['random'][0])} ± {fmt(p['random'][1])} "
            f"[{fmt(p['random_draw_sd'])}] | {fmt(p['magnitude'][0])} | {fmt(p['least'][0])} | "
            f"{fmt(p['importance'][0])} | {fmt(p['ranked'][0] - p['random'][0], 2)} |")
    lines += _region_table(models)
    lines += _detection_table(models, cfg)
    return Report(lines + _figures(first, cfg))


def _figures(first: AttackModelRow, cfg: AttackConfig) -> list[Block]:
    """The plots the run writes (validation curves only for models trained here)."""
    out: list[Block] = ["", figure("mIoU vs N", "attack_curve.png"), "",
                        figure("region drops", "attack_regions.png"), ""]
    if first.training is not None:
        out += [figure("validation curves", "validation_curves.png"), ""]
    if cfg.examples:
        out += [figure("qualitative grid (Figure 5)",
                       f"cells/seed{first.seed}/attack_examples.png"), ""]
    return out


def attack_results(models: list[AttackModelRow], mean: list[dict[str, Any]], cfg: AttackConfig,
                   spec: ModelSpec, verdicts: list[Verdict], seconds: float
                   ) -> dict[str, Any]:
    """The results.json document."""
    return {"experiment": "attack", "profile": cfg.profile, "config": cfg,
            "model": spec.to_plain(),
            "machine": machine_description(), "seconds": round(seconds, 1),
            "num_channels": models[0].num_channels, "models": models, "mean_curves": mean,
            "verdicts": [v.as_dict() for v in verdicts]}
