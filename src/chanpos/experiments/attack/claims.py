"""Figures 4 and 6's claims, and from per-model attack rows to their verdicts, their checks
and the mean curves.

Replicates: with several trained models, one effect per model (its random draws averaged
within it), t interval over models; with one model (a given checkpoint), one effect per random
channel draw, t interval over draws (a claim about that one model).

Checks: `converged` (every trained model, and its pretraining, reached its validation
plateau; not applicable to a given checkpoint, which chanpos did not train) and `sensitive`
(the same statistic computed with the measured-importance channels instead of the flip-ranked
ones reaches min_effect: the experiment could have seen an effect of that size).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace

from ...verdicts import Check, Claim, Verdict, check, converged_check, judge, t_interval
from .config import AttackConfig
from .rows import AttackModelRow, importance_set

__all__ = ["CLAIMS", "figure4_effects", "figure6_effects", "attack_verdicts", "mean_curves",
           "CLAIM_SIDE"]

CLAIMS: dict[str, Claim] = {c.claim: c for c in [
    Claim(
        claim="figure4",
        statement="zeroing the top-N flip-ranked channels of the head input lowers mIoU faster "
                  "than zeroing N random channels",
        paper="Figure 4 (DeepLabv3-ResNet-50, Cityscapes): ranked curve clearly below random",
        unit="mIoU points (random − ranked, mean over 0 < N ≤ C/4)",
        min_effect=1.0,
        min_effect_reason="one mIoU point, below which Figure 4's two curves could not be told "
                          "apart; the paper's curves separate by many points",
    ),
    Claim(
        claim="figure6",
        statement="zeroing the left-specific channels hurts the left half of the image more "
                  "than the right half",
        paper="Figure 6: the left-channel attack degrades the left region, not the right",
        unit="mIoU points ((left − right half drop) of left channels − that of random ones)",
        min_effect=1.0,
        min_effect_reason="one mIoU point of half-image mIoU, the smallest region effect the "
                          "paper's Figure 6 could show",
    ),
]}

CLAIM_SIDE = "left"  # Figure 6 attacks the left-specific channels


def _upto_quarter(row: AttackModelRow) -> list[int]:
    c = row.num_channels
    return [p.n for p in row.curves.ranked if 0 < p.n <= c / 4]


def figure4_effects(row: AttackModelRow, per_draw: bool = False, kind: str = "ranked"
                    ) -> list[float]:
    """random − `kind` mIoU averaged over 0 < N <= C/4: one value (the model), or one per
    random draw."""
    ns = _upto_quarter(row)
    if not ns:
        return []
    ranked = {p.n: p.miou for p in row.curves.of(kind)}
    rand = {p.n: p for p in row.curves.random}
    if per_draw:
        draws = len(rand[ns[0]].draws)
        return [statistics.fmean(rand[n].draws[d] - ranked[n] for n in ns)
                for d in range(draws)]
    return [statistics.fmean(rand[n].miou_mean - ranked[n] for n in ns)]


def figure6_effects(row: AttackModelRow, per_draw: bool = False, channels: str = CLAIM_SIDE
                    ) -> list[float]:
    """At the largest region N: (left − right half drop) of the `channels` set minus the same
    for random channels (their mean, or each draw)."""
    if not row.regions:
        return []
    n = max(r.n for r in row.regions)
    left, right = row.region(channels, "left", n), row.region(channels, "right", n)
    own = left.drop - right.drop
    rand = [a - b for a, b in zip(left.random_drops, right.random_drops, strict=True)]
    return [own - r for r in rand] if per_draw else [own - statistics.fmean(rand)]


def _converged(models: list[AttackModelRow], cfg: AttackConfig) -> list[Check]:
    fits = []
    for m in models:
        if m.pretrain is not None:
            fits.append((f"pretraining seed {m.seed}", m.pretrain.training))
        if m.training is not None:
            fits.append((f"seed {m.seed}", m.training))
    if not fits:
        return []  # a given checkpoint: trained outside chanpos (the report says so)
    return [converged_check(fits, cfg.stopping_rule(), least=cfg.stopping().least_epochs)]


def _sensitive(values: list[float], claim: str, control: str) -> Check:
    min_effect = CLAIMS[claim].min_effect
    if not values:
        return check("sensitive", False, f"no {control} could be measured")
    mean, lo, _ = t_interval(values)
    ok = mean >= min_effect and (lo is None or lo > 0)
    interval = "" if lo is None else f", 95 % lower bound {lo:+.2f}"
    if ok:
        why = ""
    elif mean >= min_effect:  # large on average, but not reliably above 0 across replicates
        why = (": the control's interval reaches 0, so it is not shown that this experiment "
               "sees an effect of min_effect; more trained models (or random draws) would tell")
    else:
        why = (": even the channels that matter most do not move mIoU by min_effect here, so "
               "this model cannot answer the question; attack more channels (a larger N "
               "range), or a narrower model whose channels are less redundant")
    return check("sensitive", ok, f"{control}: {mean:+.2f} mIoU points{interval} "
                 f"(n = {len(values)}) against min_effect {min_effect:g}{why}")


def _baseline(models: list[AttackModelRow], cfg: AttackConfig) -> list[Check]:
    """A text detector must detect the text it is attacked on: F-measure above the floor."""
    scored = [m for m in models if m.detection is not None]
    if not scored:
        return []
    f = [m.detection.baseline["all"]["f"] for m in scored]
    ok = min(f) >= cfg.detection_floor
    return [check("baseline", ok, f"unattacked F-measure {min(f):.1f}-{max(f):.1f} % over "
                  f"{len(f)} fold{'s' if len(f) > 1 else ''} against the floor "
                  f"{cfg.detection_floor:g} %" + ("" if ok else
                  ": the network does not detect this text, so attacking it says nothing; "
                  "use images it reads (larger text, --image-size)"))]


def attack_verdicts(models: list[AttackModelRow], cfg: AttackConfig) -> list[Verdict]:
    """`figure4` and `figure6` over the trained models (or the draws of a single model); for
    a real network over its folds of images, each verdict named after the network
    (`figure4.ppocr-det`)."""
    single = len(models) == 1
    network = cfg.network_name()
    replicate = ("random channel draw" if single else
                 "image fold" if network else "trained model")
    converged = [*_converged(models, cfg), *_baseline(models, cfg)]
    out = []
    f4, ids4 = _with_ids(models, single, lambda m: figure4_effects(m, single))
    if f4:
        control = [v for m in models for v in figure4_effects(m, single, "importance")]
        out.append(judge(CLAIMS["figure4"], f4, replicate, [*converged, _sensitive(
            control, "figure4", "random − importance-ranked mIoU (channels ranked by their "
            "measured drop on held-out images), mean over 0 < N ≤ C/4")],
            ids4))
    f6, ids6 = _with_ids(models, single, lambda m: figure6_effects(m, single))
    if f6:
        side = importance_set(CLAIM_SIDE)
        control = [v for m in models for v in figure6_effects(m, single, side)]
        out.append(judge(CLAIMS["figure6"], f6, replicate, [*converged, _sensitive(
            control, "figure6", "the region effect of the channels whose zeroing hurts the "
            "left half most relative to the right (measured on held-out images)")],
            ids6))
    return [replace(v, claim=f"{v.claim}.{network}") for v in out] if network else out


def _with_ids(models: list[AttackModelRow], single: bool,
              effects: Callable[[AttackModelRow], list[float]]) -> tuple[list[float], list[str]]:
    """(every model's effects, their replicate names: each random draw of the one model, or
    each model's seed)."""
    values, ids = [], []
    for m in models:
        got = effects(m)
        values += got
        ids += [f"seed {m.seed} draw {d}" if single else f"seed {m.seed}"
                for d in range(len(got))]  # a real network's seed names its fold
    return values, ids


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return (round(statistics.fmean(values), 3),
            round(statistics.stdev(values), 3) if len(values) > 1 else 0.0)


def mean_curves(models: list[AttackModelRow]) -> list[dict[str, object]]:
    """Per N: mean ± sd over models of ranked, random (each model's draw mean), controls."""
    out = []
    for i, point in enumerate(models[0].curves.ranked):
        entry: dict[str, object] = {"n": point.n}
        for kind in ("ranked", "magnitude", "least", "importance"):
            entry[kind] = _mean_sd([m.curves.of(kind)[i].miou for m in models])
        entry["random"] = _mean_sd([m.curves.random[i].miou_mean for m in models])
        entry["random_draw_sd"] = round(statistics.fmean(
            m.curves.random[i].miou_std for m in models), 3)
        out.append(entry)
    return out
