"""The attack's typed rows (Islam et al., ICCV 2021, Figures 4-6): one `AttackModelRow`
per attacked model, the rows of rows.partial.jsonl and of results.json's `models`.

Curves are keyed by the kind of channel set zeroed (`CURVE_KINDS`); region attacks name the
channel set (a side of the signed ranking, or the measured-importance control of a side) and
the image region measured, both as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...training.options import FitResult

__all__ = ["CURVE_KINDS", "CurvePoint", "RandomPoint", "Curves", "RegionDrop", "Ranking",
           "Diagnostics", "Pretraining", "DetectionPoint", "Detection", "AttackModelRow",
           "importance_set"]

# channel sets of the curve: the flip ranking (the claim), the magnitude and least-flip
# controls, and the measured-importance positive control
CURVE_KINDS: tuple[str, ...] = ("ranked", "magnitude", "least", "importance")


def importance_set(side: str) -> str:
    """The name of the region control's channel set for `side` (e.g. 'importance:left')."""
    return f"importance:{side}"


@dataclass(frozen=True)
class CurvePoint:
    """mIoU (%) with N channels of one ranked set zeroed."""

    n: int
    miou: float


@dataclass(frozen=True)
class RandomPoint:
    """mIoU (%) with N random channels zeroed: every draw, their mean and sd."""

    n: int
    draws: tuple[float, ...]
    miou_mean: float
    miou_std: float


@dataclass(frozen=True)
class Curves:
    """Figure 4's curves: one point per N for every ranked kind, and the random draws."""

    ranked: tuple[CurvePoint, ...]
    magnitude: tuple[CurvePoint, ...]
    least: tuple[CurvePoint, ...]
    importance: tuple[CurvePoint, ...]
    random: tuple[RandomPoint, ...]

    def of(self, kind: str) -> tuple[CurvePoint, ...]:
        """The curve of a ranked kind (`CURVE_KINDS`)."""
        return getattr(self, kind)


@dataclass(frozen=True)
class RegionDrop:
    """Figure 6: the mIoU drop of one image `region` when `n` channels of a set are zeroed,
    beside the drops of the random draws."""

    channels: str
    region: str
    n: int
    miou: float
    drop: float
    random_drops: tuple[float, ...]
    random_drop_mean: float
    random_drop_std: float


@dataclass(frozen=True)
class Ranking:
    """The channel orders of one model (most first)."""

    absolute: tuple[int, ...]
    absolute_scores: tuple[float, ...]
    sides: dict[str, tuple[int, ...]]
    magnitude: tuple[int, ...]
    importance: tuple[int, ...]
    importance_drops: tuple[float, ...]
    region_importance: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Diagnostics:
    """How the flip ranking relates to activation magnitude."""

    spearman_flip_score_vs_magnitude: float
    top_magnitude_overlap: dict[str, int]


@dataclass(frozen=True)
class Pretraining:
    """The backbone's pretraining on a classification source, and how it ended."""

    source: str
    images: int
    test_top1_pct: float
    training: FitResult


@dataclass(frozen=True)
class DetectionPoint:
    """Text detection F-measure (%) with N channels of one set zeroed (random: the mean over
    the draws)."""

    n: int
    f: float


@dataclass(frozen=True)
class Detection:
    """The detection metric of a text detector (DB boxes, IoU >= 0.5): the unattacked
    network's precision / recall / F per region (all, left, right), the F-measure curves of
    the flip-ranked and random channel sets, and per half the F-measure with the
    left-specific channels zeroed (at the largest region N)."""

    baseline: dict[str, dict[str, float]]
    ranked: tuple[DetectionPoint, ...]
    random: tuple[DetectionPoint, ...]
    left_channels: dict[str, float]


@dataclass(frozen=True)
class AttackModelRow:
    """One attacked model: its unattacked mIoU per region, curves, region attacks, rankings.

    `training` / `pretrain` are None for a given checkpoint (trained outside chanpos); for a
    real network each row is one fold of images (`seed`), `detection` its detection metric."""

    seed: int
    num_channels: int
    baseline_miou: dict[str, float]
    rank_images: int
    signed_rank_images: int
    importance_images: int
    curves: Curves
    regions: tuple[RegionDrop, ...]
    ranking: Ranking
    diagnostics: Diagnostics
    training: FitResult | None
    pretrain: Pretraining | None
    seconds: dict[str, float]
    detection: Detection | None = None

    @property
    def key(self) -> str:
        """The cell id of this model."""
        return f"seed{self.seed}"

    def region(self, channels: str, region: str, n: int) -> RegionDrop:
        """The region attack of channel set `channels` on `region` at `n`."""
        return next(r for r in self.regions
                    if (r.channels, r.region, r.n) == (channels, region, n))
