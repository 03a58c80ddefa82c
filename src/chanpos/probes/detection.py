"""The text-detection metric of the field: DB post-processing of a probability map to boxes,
IoU >= 0.5 one-to-one matching against the ground-truth quadrilaterals, precision, recall and
F-measure (as the ICDAR 2015 protocol; detections matching a don't-care box are dropped),
on the whole image and on each half (a box belongs to the half holding its centre).

`db_boxes` follows DBNet's (Liao et al., AAAI 2020) post-processing: binarise at `thresh`,
dilate, one box per connected region (its minimum-area rectangle), keep regions whose mean
probability reaches `box_thresh`, grow each box by area x `unclip` / perimeter. Needs OpenCV
and Shapely (the extra `real`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..models.onnx_import import require_real

__all__ = ["DetectionCounts", "db_boxes", "match_boxes", "detection_counts", "REGIONS"]

REGIONS = ("all", "left", "right")


@dataclass(frozen=True)
class DetectionCounts:
    """Matched (true positive) detections, all detections, all counted ground-truth boxes."""

    matched: int = 0
    detected: int = 0
    truth: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.matched + other.matched, self.detected + other.detected,
                               self.truth + other.truth)

    def scores(self) -> dict[str, float]:
        """Precision, recall, F-measure (%); 0 where a denominator is 0."""
        p = 100 * self.matched / self.detected if self.detected else 0.0
        r = 100 * self.matched / self.truth if self.truth else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": round(p, 2), "recall": round(r, 2), "f": round(f, 2)}


def db_boxes(prob: np.ndarray, *, thresh: float = 0.3, box_thresh: float = 0.5,
             unclip: float = 1.6, min_size: int = 3) -> list[np.ndarray]:
    """Boxes (4, 2) of text regions of a probability map (H, W) in [0, 1]."""
    cv2 = require_real("cv2")
    bitmap = cv2.dilate((prob > thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
    count, labels = cv2.connectedComponents(bitmap, connectivity=4)
    boxes = []
    for k in range(1, count):
        ys, xs = np.nonzero(labels == k)
        if len(xs) < min_size * min_size or float(prob[ys, xs].mean()) < box_thresh:
            continue
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(np.stack([xs, ys], 1).astype(np.float32))
        if min(bw, bh) < min_size:
            continue
        grow = bw * bh * unclip / (2 * (bw + bh))
        boxes.append(cv2.boxPoints(((cx, cy), (bw + 2 * grow, bh + 2 * grow), angle)))
    return boxes


def _polygon(points: np.ndarray):
    geometry = require_real("shapely.geometry")
    poly = geometry.Polygon(points)
    return poly if poly.is_valid else poly.buffer(0)


def match_boxes(found: Sequence[np.ndarray], truth: Sequence[np.ndarray],
                dont_care: Sequence[bool], iou: float = 0.5) -> tuple[list[bool], list[bool]]:
    """(which detections matched, which truth boxes were matched): one-to-one, greedily by
    IoU, never with a don't-care box."""
    polys_f = [_polygon(np.asarray(f)) for f in found]
    polys_t = [_polygon(np.asarray(t)) for t in truth]
    pairs = []
    for i, pf in enumerate(polys_f):
        for j, pt in enumerate(polys_t):
            if dont_care[j] or not pf.intersects(pt):
                continue
            inter = pf.intersection(pt).area
            union = pf.area + pt.area - inter
            if union > 0 and inter / union >= iou:
                pairs.append((inter / union, i, j))
    hit_f, hit_t = [False] * len(found), [False] * len(truth)
    for _, i, j in sorted(pairs, reverse=True):
        if not hit_f[i] and not hit_t[j]:
            hit_f[i] = hit_t[j] = True
    return hit_f, hit_t


def _dropped(found: Sequence[np.ndarray], truth: Sequence[np.ndarray],
             dont_care: Sequence[bool]) -> list[bool]:
    """Detections lying mostly (> 50 % of their area) in a don't-care box."""
    care = [_polygon(np.asarray(t)) for t, d in zip(truth, dont_care, strict=True) if d]
    out = []
    for f in found:
        pf = _polygon(np.asarray(f))
        out.append(any(pf.area > 0 and pf.intersection(c).area / pf.area > 0.5 for c in care))
    return out


def _half(points: np.ndarray, width: int) -> str:
    return "left" if float(np.asarray(points)[:, 0].mean()) < width / 2 else "right"


def detection_counts(found: Sequence[np.ndarray], truth: Sequence[Sequence[float]],
                     dont_care: Sequence[bool], width: int, iou: float = 0.5
                     ) -> dict[str, DetectionCounts]:
    """Counts on one image per region (`REGIONS`): all, left half, right half."""
    quads = [np.asarray(t, dtype=np.float64).reshape(4, 2) for t in truth]
    drop = _dropped(found, quads, dont_care)
    kept = [f for f, d in zip(found, drop, strict=True) if not d]
    hit_f, hit_t = match_boxes(kept, quads, dont_care, iou)
    out = {}
    for region in REGIONS:
        def inside(points: np.ndarray, region: str = region) -> bool:
            return region == "all" or _half(points, width) == region

        out[region] = DetectionCounts(
            matched=sum(h for t, h in zip(quads, hit_t, strict=True) if inside(t)),
            detected=sum(1 for f in kept if inside(f)),
            truth=sum(1 for t, d in zip(quads, dont_care, strict=True) if not d and inside(t)))
    return out
