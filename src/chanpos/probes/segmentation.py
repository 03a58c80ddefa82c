"""Segmentation metrics with image regions (Islam et al., ICCV 2021, Figures 4 and 6).

mIoU comes from confusion matrices (rows: target class, columns: predicted class) built
with one `torch.bincount` per call: pixels are binned by (group, zone, target, prediction),
so many predictions of the same images (an attack curve's channel sets) and several image
regions cost one pass. Regions follow the authors' evaluation: `left` / `right` are the
left / right half of the columns, `center` the middle half; pixels outside the region and
pixels labelled `ignore_index` do not count. The mean runs over classes present in the
target or the prediction within the region (union > 0), as the authors' nan-mean does.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "REGIONS",
    "region_mask",
    "zone_map",
    "ZONES",
    "confusion_matrix",
    "zone_confusions",
    "region_confusion",
    "miou_from_confusion",
    "segmentation_miou",
]

REGIONS: tuple[str, ...] = ("all", "left", "right", "center")
# zones partition the columns so that every region is a sum of zones:
# 0 = outer left quarter, 1 = inner left quarter, 2 = inner right, 3 = outer right, 4 = the
# middle column of an odd width (belongs to "all" only)
ZONES = 5
_REGION_ZONES: dict[str, tuple[int, ...]] = {
    "all": (0, 1, 2, 3, 4),
    "left": (0, 1),
    "right": (2, 3),
    "center": (1, 2),
}


def region_mask(region: str | Tensor, height: int, width: int, device=None) -> Tensor:
    """The (H, W) bool mask of a named region (all, left, right, center) or a given mask."""
    if isinstance(region, Tensor):
        if region.shape != (height, width) or region.dtype != torch.bool:
            raise ValueError(
                f"a region mask must be a bool tensor of shape ({height}, {width}), got "
                f"{region.dtype} {tuple(region.shape)}"
            )
        return region.to(device) if device is not None else region
    if region not in _REGION_ZONES:
        raise ValueError(f"unknown region {region!r}; use one of {', '.join(REGIONS)} or a mask")
    zones = zone_map(height, width, device)
    mask = torch.zeros(height, width, dtype=torch.bool, device=device)
    for z in _REGION_ZONES[region]:
        mask |= zones == z
    return mask


def zone_map(height: int, width: int, device=None) -> Tensor:
    """(H, W) int64 zone ids: left half = zones 0, 1; right half = 2, 3; centre = 1, 2.

    Left = columns [0, W//2), right = [W - W//2, W), centre = [W//4, W - W//4) (the middle
    half, as in the authors' code); an odd width's middle column is zone 4 ("all" only).
    """
    x = torch.arange(width, device=device)
    half, quarter = width // 2, width // 4
    zones = torch.full((width,), 4, dtype=torch.long, device=device)
    zones[x < half] = 1
    zones[x < quarter] = 0
    zones[x >= width - half] = 2
    zones[x >= width - quarter] = 3
    return zones.view(1, width).expand(height, width)


def zone_confusions(
    pred: Tensor, target: Tensor, num_classes: int, *, ignore_index: int = 255,
    zones: Tensor | None = None, num_zones: int = ZONES, check: bool = True,
) -> Tensor:
    """Confusion matrices per group and zone with one bincount -> (G, Z, K, K) int64.

    pred (G, B, H, W) or (B, H, W) integer predictions (G groups of predictions of the same
    images, e.g. one per zeroed channel set), target (B, H, W) with `ignore_index` for
    unlabelled pixels, zones (H, W) int64 in [0, num_zones) (default: `zone_map`).
    `check=False` skips the range check of `pred` (for argmax outputs).
    """
    if pred.dim() == 3:
        pred = pred.unsqueeze(0)
    g, b, h, w = pred.shape
    if target.shape != (b, h, w):
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match predictions {(b, h, w)}"
        )
    k = num_classes
    if zones is None:
        zones = zone_map(h, w, target.device)
        num_zones = ZONES
    if check and pred.numel() and (int(pred.min()) < 0 or int(pred.max()) >= k):
        raise ValueError(
            f"predictions must lie in [0, {k}), got [{int(pred.min())}, {int(pred.max())}]"
        )
    target = target.long()
    valid = (target >= 0) & (target < k) & (target != ignore_index)
    # ignored pixels go to an extra zone that is dropped: no masking pass over G x B x H x W
    zone = torch.where(valid, zones.to(target.device).long(), num_zones)
    base = (zone * k + torch.where(valid, target, 0)) * k  # (B, H, W), shared by every group
    per_group = (num_zones + 1) * k * k
    groups = torch.arange(g, device=pred.device).view(g, 1, 1, 1) * per_group
    counts = torch.bincount((pred.long() + base + groups).flatten(), minlength=g * per_group)
    return counts.view(g, num_zones + 1, k, k)[:, :num_zones]


def region_confusion(zoned: Tensor, region: str) -> Tensor:
    """Sum zone confusions (..., Z, K, K) from `zone_confusions` over a region -> (..., K, K)."""
    if region not in _REGION_ZONES:
        raise ValueError(f"unknown region {region!r}; use one of {', '.join(REGIONS)}")
    idx = [z for z in _REGION_ZONES[region] if z < zoned.shape[-3]]
    return zoned[..., idx, :, :].sum(dim=-3)


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int, *, ignore_index: int = 255,
    region: str | Tensor = "all",
) -> Tensor:
    """(K, K) int64 confusion matrix [target, prediction] of pred/target (B, H, W) in a region."""
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(
            f"pred and target must both be (B, H, W), got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    h, w = target.shape[-2:]
    mask = region_mask(region, h, w, target.device).long()
    return zone_confusions(pred, target, num_classes, ignore_index=ignore_index, zones=mask,
                           num_zones=2)[0, 1]


def miou_from_confusion(cm: Tensor) -> float:
    """Mean IoU in percent over classes with a non-empty union (nan if there is none)."""
    cm = cm.double()
    inter = cm.diagonal(dim1=-2, dim2=-1)
    union = cm.sum(-1) + cm.sum(-2) - inter
    present = union > 0
    if not bool(present.any()):
        return float("nan")
    return float(100.0 * (inter[present] / union[present]).mean())


def segmentation_miou(
    pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = 255,
    region: str | Tensor = "all",
) -> float:
    """mIoU in percent of integer predictions vs targets (B, H, W) within `region`.

    `region`: all, left, right, center, or a bool mask (H, W). Pixels labelled
    `ignore_index` are left out; classes absent from both target and prediction within the
    region are left out of the mean.
    """
    cm = confusion_matrix(pred, target, num_classes, ignore_index=ignore_index, region=region)
    return miou_from_confusion(cm)
