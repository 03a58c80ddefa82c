"""From per-model attack rows to the Figure 4 and Figure 6 verdicts and the mean curves.

Replicates: with several trained models, one effect per model (its random draws averaged
within it), t interval over models; with one model (a given checkpoint), one effect per random
channel draw, t interval over draws (a claim about that one model).
"""

from __future__ import annotations

import statistics
from typing import Any

from ..claims import CLAIMS
from ..verdicts import Verdict, judge

__all__ = ["figure4_effects", "figure6_effects", "attack_verdicts", "mean_curves"]


def _upto_quarter(row: dict[str, Any]) -> list[int]:
    c = row["num_channels"]
    return [p["n"] for p in row["curves"]["ranked"] if 0 < p["n"] <= c / 4]


def figure4_effects(row: dict[str, Any], per_draw: bool = False) -> list[float]:
    """random − ranked mIoU averaged over 0 < N <= C/4: one value (the model), or one per draw."""
    ns = _upto_quarter(row)
    if not ns:
        return []
    ranked = {p["n"]: p["miou"] for p in row["curves"]["ranked"]}
    rand = {p["n"]: p for p in row["curves"]["random"]}
    if per_draw:
        draws = len(rand[ns[0]]["draws"])
        return [statistics.fmean(rand[n]["draws"][d] - ranked[n] for n in ns)
                for d in range(draws)]
    return [statistics.fmean(rand[n]["miou_mean"] - ranked[n] for n in ns)]


def figure6_effects(row: dict[str, Any], per_draw: bool = False) -> list[float]:
    """At the largest region N: (left − right half drop) of the left-specific channels minus the
    same for random channels (their mean, or each draw)."""
    regions = row["regions"]
    if not regions:
        return []
    n = max(r["n"] for r in regions)
    cell = {(r["channels"], r["region"]): r for r in regions if r["n"] == n}
    left, right = cell[("left", "left")], cell[("left", "right")]
    own = left["drop"] - right["drop"]
    rand = [a - b for a, b in zip(left["random_drops"], right["random_drops"], strict=True)]
    return [own - r for r in rand] if per_draw else [own - statistics.fmean(rand)]


def attack_verdicts(models: list[dict[str, Any]]) -> list[Verdict]:
    """`figure4` and `figure6` over the trained models (or the draws of a single model)."""
    single = len(models) == 1
    replicate = "random channel draw" if single else "trained model"
    out = []
    for claim, effects in (("figure4", figure4_effects), ("figure6", figure6_effects)):
        values = [v for row in models for v in effects(row, per_draw=single)]
        if values:
            out.append(judge(CLAIMS[claim], values, replicate))
    return out


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return (round(statistics.fmean(values), 3),
            round(statistics.stdev(values), 3) if len(values) > 1 else 0.0)


def mean_curves(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per N: mean ± sd over models of ranked, random (each model's draw mean), controls."""
    out = []
    for i, point in enumerate(models[0]["curves"]["ranked"]):
        entry: dict[str, Any] = {"n": point["n"]}
        for kind in ("ranked", "magnitude", "least"):
            entry[kind] = _mean_sd([m["curves"][kind][i]["miou"] for m in models])
        entry["random"] = _mean_sd([m["curves"]["random"][i]["miou_mean"] for m in models])
        entry["random_draw_sd"] = round(statistics.fmean(
            m["curves"]["random"][i]["miou_std"] for m in models), 3)
        out.append(entry)
    return out
