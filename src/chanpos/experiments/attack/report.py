"""The attack's report.md and results.json (Islam et al., ICCV 2021, Figures 4-6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...models import ModelSpec
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


def _setting(cfg: AttackConfig, spec: ModelSpec) -> list[str]:
    data = (f"`{cfg.source}` {cfg.image_size[0]}x{cfg.image_size[1]}"
            + (", road and sidewalk painted alike" if cfg.same_texture else "")
            if cfg.source == "streets" else f"`{cfg.source}` (scale {cfg.scale})")
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
                  spec: ModelSpec, verdicts: list[Verdict], seconds: float) -> Report:
    """report.md: verdicts, the per-model table, the mean curve, the region table."""
    c = models[0].num_channels
    first = models[0]
    lines: list[Block] = [
        heading(1, "Figures 4-6 — attacking the position-encoding channels"),
        "",
        "Islam et al., ICCV 2021, Figures 4-6: rank the head input's channels by flip difference "
        "(mean |GAP(f(x)) − GAP(f(flip x))|), zero the top N, compare with N random channels; "
        "zero the left-specific channels (signed ranking) and compare the image halves.",
        "",
        *_setting(cfg, spec),
        f"Attacked layer: the head input (backbone output), C = {c} channels. Channels ranked on "
        f"{first.rank_images} evaluation images (signed ranking: "
        f"{first.signed_rank_images}{_where(cfg)}); mIoU (percent, classes present in target "
        f"or prediction) on the evaluation images at label resolution; {cfg.random_draws} random "
        f"draws per N. Positive control: every channel's measured importance (mIoU drop when it "
        f"alone is zeroed) on {first.importance_images} held-out training images, never the "
        f"evaluation images. {len(models)} model{'s' if len(models) > 1 else ''} in "
        f"{seconds:.0f} s.",
        *([] if first.training is not None else [
            "The attacked model was given (--checkpoint): chanpos did not train it, so its "
            "convergence is not checked."]),
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
