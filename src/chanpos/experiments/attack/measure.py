"""Rank one trained model's head-input channels by flip difference and attack them
(Islam et al., ICCV 2021, Figures 4-6): zero the top N ranked channels, N random channels
(several draws), the N most active and the N least flip-sensitive channels, and the left- or
right-specific channels, and measure validation mIoU overall and per image half.

The backbone runs once per batch; only the head runs per channel set
(`chanpos.probes.attack_confusions`)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset
from torchmetrics.functional import spearman_corrcoef

from ...data.segmentation import collate_segmentation
from ...probes.channels import (
    ChannelRanking,
    ablate_channels,
    attack_confusions,
    predict_labels,
    rank_position_channels,
)
from ...probes.segmentation import miou_from_confusion, region_confusion
from ...training import SegmentationTransform
from .config import AttackConfig
from .prepare import AttackInputs
from .train import segmentation_loader

__all__ = ["ATTACKED_LAYER", "channel_sets", "attack_model", "examples_of", "example_ns"]

ATTACKED_LAYER = "backbone"  # its "out" entry is the head input (backbone.layer4's output)


def channel_sets(ranking: ChannelRanking, signed: ChannelRanking, cfg: AttackConfig,
                 num_channels: int, seed: int) -> dict[tuple[str, int, int], Tensor]:
    """(kind, draw, N) -> channel indices for every curve point and region attack."""
    g = torch.Generator().manual_seed(seed + 1)
    perms = [torch.randperm(num_channels, generator=g) for _ in range(cfg.random_draws)]
    least = torch.argsort(ranking.scores, descending=False, stable=True)
    magnitude = torch.argsort(ranking.magnitude, descending=True, stable=True)
    sets: dict[tuple[str, int, int], Tensor] = {}
    for n in sorted(set(cfg.ns) | set(cfg.region_ns)):
        sets[("ranked", 0, n)] = ranking.order[:n]
        for d, perm in enumerate(perms):
            sets[("random", d, n)] = perm[:n]
        sets[("magnitude", 0, n)] = magnitude[:n]
        sets[("least", 0, n)] = least[:n]
    for n in cfg.region_ns:
        for side in signed.sides:
            sets[(side, 0, n)] = signed.sides[side][:n]
    return sets


def _spearman(a: Tensor, b: Tensor) -> float:
    return round(float(spearman_corrcoef(a.double(), b.double())), 4)


def _ranking_images(model: nn.Module, data: Dataset, index: list[int], cfg: AttackConfig,
                    transform: SegmentationTransform, mode: str, device: torch.device
                    ) -> ChannelRanking:
    loader = segmentation_loader(Subset(data, index), cfg.eval_batch_size, cfg)
    return rank_position_channels(model, ATTACKED_LAYER, (transform(b, False)[0] for b in loader),
                                  mode, device=device)


def attack_model(cfg: AttackConfig, model: nn.Module, inputs: AttackInputs, seed: int,
                 device: torch.device, log=print) -> dict[str, Any]:
    """Rank and attack one trained model -> its results row (curves with every random draw)."""
    model = model.to(device).eval()
    val = inputs.val_set
    transform = SegmentationTransform(val.mean, val.std)
    t0 = time.perf_counter()
    ranking = _ranking_images(model, val, inputs.rank_index, cfg, transform, "absolute", device)
    signed = _ranking_images(model, val, inputs.signed_index, cfg, transform, "signed", device)
    rank_seconds = time.perf_counter() - t0
    sets = channel_sets(ranking, signed, cfg, inputs.num_channels, seed)
    canon = {k: tuple(sorted(v.tolist())) for k, v in sets.items()}
    unique = list(dict.fromkeys(canon.values()))  # identical sets are evaluated once
    t0 = time.perf_counter()
    counts = attack_confusions(model, segmentation_loader(val, cfg.eval_batch_size, cfg),
                               [torch.tensor(u, dtype=torch.long) for u in unique],
                               inputs.num_classes, ignore_index=int(val.ignore_index),
                               device=device, batch=lambda b: transform(b, False))
    attack_seconds = time.perf_counter() - t0
    where = {u: i for i, u in enumerate(unique)}

    def miou(key: tuple[str, int, int], region: str = "all") -> float:
        return round(miou_from_confusion(region_confusion(counts[where[canon[key]]], region)), 3)

    draws = range(cfg.random_draws)
    curves: dict[str, list[dict[str, Any]]] = {k: [] for k in ("ranked", "random", "magnitude",
                                                               "least")}
    for n in cfg.ns:
        for kind in ("ranked", "magnitude", "least"):
            curves[kind].append({"n": n, "miou": miou((kind, 0, n))})
        values = [miou(("random", d, n)) for d in draws]
        curves["random"].append({"n": n, "draws": values, "miou_mean": round(
            statistics.fmean(values), 3), "miou_std": round(statistics.stdev(values), 3)})
    base = {r: miou(("ranked", 0, 0), r) for r in ("all", "left", "right")}
    regions = []
    for side in signed.sides:
        for region in ("left", "right"):
            for n in cfg.region_ns:
                rand = [round(base[region] - miou(("random", d, n), region), 3) for d in draws]
                value = miou((side, 0, n), region)
                regions.append({"channels": side, "region": region, "n": n, "miou": value,
                                "drop": round(base[region] - value, 3), "random_drops": rand,
                                "random_drop_mean": round(statistics.fmean(rand), 3),
                                "random_drop_std": round(statistics.stdev(rand), 3)})
    magnitude = torch.argsort(ranking.magnitude, descending=True, stable=True)
    log(f"[seed {seed}] ranked {ranking.num_channels} channels on {ranking.num_images} images "
        f"({rank_seconds:.0f} s), attacked {len(unique)} channel sets ({attack_seconds:.0f} s); "
        f"mIoU {base['all']:.1f}")
    return {
        "seed": seed, "num_channels": inputs.num_channels, "baseline_miou": base,
        "rank_images": ranking.num_images, "signed_rank_images": signed.num_images,
        "curves": curves, "regions": regions,
        "ranking": {"absolute": ranking.order.tolist(),
                    "absolute_scores": [round(float(s), 6) for s in ranking.scores],
                    "left": signed.sides["left"].tolist(), "right": signed.sides["right"].tolist(),
                    "magnitude": magnitude.tolist()},
        "diagnostics": {
            "spearman_flip_score_vs_magnitude": _spearman(ranking.scores, ranking.magnitude),
            "top_magnitude_overlap": [
                {"n": n, "shared": len(set(ranking.order[:n].tolist())
                                       & set(magnitude[:n].tolist()))} for n in cfg.ns if n > 0],
        },
        "seconds": {"rank": round(rank_seconds, 1), "attack": round(attack_seconds, 1)},
    }


def example_ns(ns: tuple[int, ...]) -> list[int]:
    """Up to four N for the qualitative grid: 0, two in between, the largest."""
    ns = sorted(ns)
    if len(ns) <= 4:
        return ns
    return sorted({ns[0], ns[-1], ns[len(ns) // 3], ns[2 * len(ns) // 3]})


@torch.no_grad()
def examples_of(model: nn.Module, data: Dataset, order: list[int], cfg: AttackConfig,
                device: torch.device) -> dict[str, Any]:
    """Figure 5: predictions of a few validation images with the top-N ranked channels zeroed."""
    idx = list(range(min(cfg.examples, len(data))))
    images, labels = collate_segmentation([data[i] for i in idx])
    x = SegmentationTransform(data.mean, data.std)((images, labels), False)[0].to(device)
    preds = {}
    for n in example_ns(cfg.ns):
        with ablate_channels(model, ATTACKED_LAYER, torch.tensor(order[:n], dtype=torch.long)):
            preds[n] = predict_labels(model(x)["out"], tuple(labels.shape[-2:])).cpu()
    return {"images": images, "labels": labels, "preds": preds, "palette": tuple(data.palette),
            "ignore_index": int(data.ignore_index)}
