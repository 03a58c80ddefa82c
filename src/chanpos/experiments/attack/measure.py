"""Rank one trained model's head-input channels by flip difference and attack them
(Islam et al., ICCV 2021, Figures 4-6): zero the top N ranked channels, N random channels
(several draws), the N most active and the N least flip-sensitive channels, and the left- or
right-specific channels, and measure evaluation mIoU overall and per image half.

The positive control (the `sensitive` check): every channel's measured importance, the mIoU
drop when it alone is zeroed, on images disjoint from the evaluation images (the validation
split held out of training); the top-N most important channels are attacked like the ranked
ones, and per side the channels whose zeroing hurts that half of the image more than the
other. If even they cannot move mIoU by min_effect, the model cannot answer the question.

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
from ...probes.ablation import (
    ablate_channels,
    attack_confusions,
    predict_labels,
    segmentation_parts,
)
from ...probes.channels import ChannelRanking, rank_position_channels
from ...probes.detection import DetectionCounts, db_boxes, detection_counts
from ...probes.segmentation import miou_from_confusion, region_confusion
from ...runs.progress import phase
from ...training import SegmentationTransform
from .config import AttackConfig
from .prepare import AttackInputs
from .rows import (
    CURVE_KINDS,
    AttackModelRow,
    CurvePoint,
    Curves,
    Detection,
    DetectionPoint,
    Diagnostics,
    RandomPoint,
    Ranking,
    RegionDrop,
    importance_set,
)
from .train import segmentation_loader

__all__ = ["ATTACKED_LAYER", "channel_importance", "attack_model", "examples_of",
           "example_ns"]

ATTACKED_LAYER = "backbone"  # its "out" entry is the head input (backbone.layer4's output)
HALVES = ("left", "right")   # the image regions of the region attack (`probes.REGIONS`)


def _miou(counts: Tensor, region: str = "all") -> float:
    return miou_from_confusion(region_confusion(counts, region))


def channel_importance(model: nn.Module, data: Dataset, cfg: AttackConfig, num_channels: int,
                       num_classes: int, device: torch.device, layer: str = ATTACKED_LAYER,
                       progress: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
    """(mIoU drop of each channel zeroed alone (C,), per half: its drop on that half minus
    its drop on the other half (C,)) on the images of `data` (`progress(batches done)`)."""
    transform = SegmentationTransform(data.mean, data.std)
    sets = [torch.empty(0, dtype=torch.long)] + [torch.tensor([c]) for c in range(num_channels)]
    counts = attack_confusions(segmentation_parts(model, layer),
                               segmentation_loader(data, cfg.eval_batch_size, cfg), sets,
                               num_classes, ignore_index=int(data.ignore_index), device=device,
                               batch=lambda b: transform(b, False), progress=progress)
    drops = {r: torch.tensor([_miou(counts[0], r) - _miou(counts[c + 1], r)
                              for c in range(num_channels)]) for r in ("all", *HALVES)}
    sided = {side: drops[side] - drops[other] for side, other in zip(HALVES, HALVES[::-1],
                                                                     strict=True)}
    return drops["all"], sided


def _order(scores: Tensor) -> Tensor:
    return torch.argsort(scores, descending=True, stable=True)


def channel_sets(ranking: ChannelRanking, signed: ChannelRanking, importance: Tensor,
                 sided: dict[str, Tensor], cfg: AttackConfig, num_channels: int, seed: int
                 ) -> dict[tuple[str, int, int], Tensor]:
    """(kind, draw, N) -> channel indices for every curve point and region attack."""
    g = torch.Generator().manual_seed(seed + 1)
    perms = [torch.randperm(num_channels, generator=g) for _ in range(cfg.random_draws)]
    orders = {"ranked": ranking.order, "magnitude": _order(ranking.magnitude),
              "least": torch.argsort(ranking.scores, descending=False, stable=True),
              "importance": _order(importance)}
    sets: dict[tuple[str, int, int], Tensor] = {}
    for n in sorted(set(cfg.ns) | set(cfg.region_ns)):
        for kind in CURVE_KINDS:
            sets[(kind, 0, n)] = orders[kind][:n]
        for d, perm in enumerate(perms):
            sets[("random", d, n)] = perm[:n]
    for n in cfg.region_ns:
        for side in signed.sides:
            sets[(side, 0, n)] = signed.sides[side][:n]
            sets[(importance_set(side), 0, n)] = _order(sided[side])[:n]
    return sets


def _spearman(a: Tensor, b: Tensor) -> float:
    return round(float(spearman_corrcoef(a.double(), b.double())), 4)


def _ranking_images(model: nn.Module, data: Dataset, cfg: AttackConfig, layer: str,
                    transform: SegmentationTransform, mode: str, device: torch.device,
                    step: Any = lambda: None) -> ChannelRanking:
    loader = segmentation_loader(data, cfg.eval_batch_size, cfg)

    def batches():
        for b in loader:
            yield transform(b, False)[0]
            step()

    return rank_position_channels(model, layer, batches(), mode, device=device)


def _batches(data: Dataset, cfg: AttackConfig) -> int:
    return -(-len(data) // cfg.eval_batch_size)


class _DetectionScores:
    """Detection counts per channel set and region, from the probability maps the attack's
    head runs produce (`attack_confusions`' observer): DB boxes matched to the word boxes."""

    def __init__(self, data: Any, batch_size: int, threshold: float, unclip: float,
                 wanted: set[int]) -> None:
        self.data, self.batch_size = data, batch_size
        self.threshold, self.unclip = threshold, unclip
        self.wanted = wanted  # the set indices the row's detection summary reads
        self.counts: dict[int, dict[str, Any]] = {}

    def observe(self, batch: int, index: int, scores: Tensor) -> None:
        """Score set `index`'s maps of loader batch `batch` (if the summary needs them)."""
        if index not in self.wanted:
            return
        prob = scores[:, 1].float().cpu().numpy()
        mine = self.counts.setdefault(index, {})
        for b in range(prob.shape[0]):
            i = batch * self.batch_size + b
            boxes = db_boxes(prob[b], thresh=self.threshold, unclip=self.unclip)
            got = detection_counts(boxes, self.data.boxes[i], self.data.dont_care[i],
                                   prob.shape[-1])
            for region, c in got.items():
                mine[region] = mine.get(region, DetectionCounts()) + c

    def scores(self, index: int) -> dict[str, dict[str, float]]:
        """Precision / recall / F (%) per region of set `index`."""
        return {r: c.scores() for r, c in self.counts[index].items()}


def _detection_keys(cfg: AttackConfig) -> list[tuple[str, int, int]]:
    """The channel sets whose detection scores the row's summary (`_detection`) reads."""
    keys = [("ranked", 0, n) for n in cfg.ns]
    keys += [("random", d, n) for n in cfg.ns for d in range(cfg.random_draws)]
    return keys + ([("left", 0, max(cfg.region_ns))] if cfg.region_ns else [])


def _detection(scores: _DetectionScores, key_index: Any, cfg: AttackConfig) -> Detection:
    """The row's detection summary from the scored sets (`key_index(key)` -> set index)."""
    def f(key: tuple[str, int, int], region: str = "all") -> float:
        return scores.scores(key_index(key))[region]["f"]

    n_region = max(cfg.region_ns) if cfg.region_ns else None
    return Detection(
        baseline=scores.scores(key_index(("ranked", 0, 0))),
        ranked=tuple(DetectionPoint(n, f(("ranked", 0, n))) for n in cfg.ns),
        random=tuple(DetectionPoint(n, round(statistics.fmean(
            f(("random", d, n)) for d in range(cfg.random_draws)), 2)) for n in cfg.ns),
        left_channels=({} if n_region is None else
                       {h: f(("left", 0, n_region), h) for h in HALVES}))


def _curves_and_regions(miou: Any, cfg: AttackConfig, sides: tuple[str, ...]
                        ) -> tuple[Curves, dict[str, float], tuple[RegionDrop, ...]]:
    """Figure 4's curves and Figure 6's region drops from `miou((kind, draw, n), region)`."""
    draws = range(cfg.random_draws)
    points = {kind: tuple(CurvePoint(n, miou((kind, 0, n))) for n in cfg.ns)
              for kind in CURVE_KINDS}
    randoms = []
    for n in cfg.ns:
        values = tuple(miou(("random", d, n)) for d in draws)
        randoms.append(RandomPoint(n, values, round(statistics.fmean(values), 3),
                                   round(statistics.stdev(values), 3)))
    base = {r: miou(("ranked", 0, 0), r) for r in ("all", *HALVES)}
    regions = []
    for channels in [*sides, *(importance_set(s) for s in sides)]:
        for region in HALVES:
            for n in cfg.region_ns:
                rand = tuple(round(base[region] - miou(("random", d, n), region), 3)
                             for d in draws)
                value = miou((channels, 0, n), region)
                regions.append(RegionDrop(channels, region, n, value,
                                          round(base[region] - value, 3), rand,
                                          round(statistics.fmean(rand), 3),
                                          round(statistics.stdev(rand), 3)))
    return Curves(**points, random=tuple(randoms)), base, tuple(regions)


def attack_model(cfg: AttackConfig, model: nn.Module, inputs: AttackInputs, seed: int,
                 device: torch.device, *, training: Any = None, pretrain: Any = None,
                 seconds: dict[str, float] | None = None, log=print) -> AttackModelRow:
    """Rank and attack one trained model -> its row (curves with every random draw)."""
    model = model.to(device).eval()
    val = inputs.eval_set
    layer = inputs.layer
    transform = SegmentationTransform(val.mean, val.std)
    t0 = time.perf_counter()
    rank_set = inputs.rank_set if inputs.rank_set is not None else Subset(val, inputs.rank_index)
    signed_set = (inputs.signed_set if inputs.signed_set is not None
                  else Subset(val, inputs.signed_index))
    with phase(f"seed {seed}: ranking", _batches(rank_set, cfg) + _batches(signed_set, cfg),
               cfg.progress, "batch") as bar:
        ranking = _ranking_images(model, rank_set, cfg, layer, transform, "absolute", device,
                                  bar.step)
        signed = _ranking_images(model, signed_set, cfg, layer, transform, "signed", device,
                                 bar.step)
    with phase(f"seed {seed}: control ({inputs.num_channels + 1} head runs per batch)",
               _batches(inputs.importance_set, cfg), cfg.progress, "batch") as bar:
        importance, sided = channel_importance(model, inputs.importance_set, cfg,
                                               inputs.num_channels, inputs.num_classes, device,
                                               layer, progress=bar.to)
    rank_seconds = time.perf_counter() - t0
    sets = channel_sets(ranking, signed, importance, sided, cfg, inputs.num_channels, seed)
    canon = {k: tuple(sorted(v.tolist())) for k, v in sets.items()}
    unique = list(dict.fromkeys(canon.values()))  # identical sets are evaluated once
    t0 = time.perf_counter()
    where = {u: i for i, u in enumerate(unique)}
    detected = (_DetectionScores(val, cfg.eval_batch_size, model.info.threshold, cfg.unclip,
                                 {where[canon[k]] for k in _detection_keys(cfg)})
                if inputs.detection else None)
    with phase(f"seed {seed}: curve ({len(unique)} channel sets)", _batches(val, cfg),
               cfg.progress, "batch") as bar:
        counts = attack_confusions(segmentation_parts(model, layer),
                                   segmentation_loader(val, cfg.eval_batch_size, cfg),
                                   [torch.tensor(u, dtype=torch.long) for u in unique],
                                   inputs.num_classes, ignore_index=int(val.ignore_index),
                                   device=device, batch=lambda b: transform(b, False),
                                   observe=detected.observe if detected else None,
                                   progress=bar.to)
    attack_seconds = time.perf_counter() - t0

    def miou(key: tuple[str, int, int], region: str = "all") -> float:
        return round(_miou(counts[where[canon[key]]], region), 3)

    curves, base, regions = _curves_and_regions(miou, cfg, tuple(signed.sides))
    magnitude = _order(ranking.magnitude)
    log(f"[seed {seed}] ranked {ranking.num_channels} channels on {ranking.num_images} images "
        f"({rank_seconds:.0f} s), attacked {len(unique)} channel sets ({attack_seconds:.0f} s); "
        f"mIoU {base['all']:.1f}")
    detection = (None if detected is None else
                 _detection(detected, lambda key: where[canon[key]], cfg))
    return AttackModelRow(
        seed=seed, num_channels=inputs.num_channels, baseline_miou=base,
        rank_images=ranking.num_images, signed_rank_images=signed.num_images,
        importance_images=len(inputs.importance_set),
        curves=curves, regions=regions,
        ranking=Ranking(
            absolute=tuple(ranking.order.tolist()),
            absolute_scores=tuple(round(float(s), 6) for s in ranking.scores),
            sides={s: tuple(o.tolist()) for s, o in signed.sides.items()},
            magnitude=tuple(magnitude.tolist()),
            importance=tuple(_order(importance).tolist()),
            importance_drops=tuple(round(float(d), 4) for d in importance),
            region_importance={s: tuple(_order(v).tolist()) for s, v in sided.items()}),
        diagnostics=Diagnostics(
            spearman_flip_score_vs_magnitude=_spearman(ranking.scores, ranking.magnitude),
            top_magnitude_overlap={str(n): len(set(ranking.order[:n].tolist())
                                               & set(magnitude[:n].tolist()))
                                   for n in cfg.ns if n > 0}),
        training=training, pretrain=pretrain,
        seconds={**(seconds or {}), "rank": round(rank_seconds, 1),
                 "attack": round(attack_seconds, 1)},
        detection=detection,
    )


def example_ns(ns: tuple[int, ...]) -> list[int]:
    """Up to four N for the qualitative grid: 0, two in between, the largest."""
    ns = sorted(ns)
    if len(ns) <= 4:
        return ns
    return sorted({ns[0], ns[-1], ns[len(ns) // 3], ns[2 * len(ns) // 3]})


@torch.no_grad()
def examples_of(model: nn.Module, data: Dataset, order: tuple[int, ...], cfg: AttackConfig,
                device: torch.device, layer: str = ATTACKED_LAYER) -> dict[str, Any]:
    """Figure 5: predictions of a few evaluation images with the top-N ranked channels zeroed."""
    idx = list(range(min(cfg.examples, len(data))))
    images, labels = collate_segmentation([data[i] for i in idx])
    x = SegmentationTransform(data.mean, data.std)((images, labels), False)[0].to(device)
    preds = {}
    for n in example_ns(cfg.ns):
        with ablate_channels(model, layer, torch.tensor(order[:n], dtype=torch.long)):
            preds[n] = predict_labels(model(x)["out"], tuple(labels.shape[-2:])).cpu()
    return {"images": images, "labels": labels, "preds": preds, "palette": tuple(data.palette),
            "ignore_index": int(data.ignore_index)}
