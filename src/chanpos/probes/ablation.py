"""Channel ablation (Islam et al., ICCV 2021, Figures 4-6), on any `nn.Module`.

- `ablate_channels`: a context manager (forward hook) that zeroes channels of a layer's
  output; the model is unchanged after it.
- `attack_confusions`: the attack curve without re-running the backbone per channel set:
  the head input is computed once per batch, only the head runs per set, and all sets'
  confusion matrices come from one bincount per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ChanposError
from .channels import _feature_tensor, resolve_layer
from .segmentation import ZONES, zone_confusions, zone_map

__all__ = ["ablate_channels", "SegmentationParts", "segmentation_parts", "head_channels",
           "predict_labels", "attack_confusions"]


def _zero_channels(t: Tensor, channels: Tensor) -> Tensor:
    """A copy of t (B, C, ...) with `channels` set to zero."""
    if channels.numel() and int(channels.max()) >= t.shape[1]:
        raise ChanposError(
            f"channel index {int(channels.max())} is out of range for a layer with {t.shape[1]} "
            f"channels"
        )
    keep = torch.ones(t.shape[1], dtype=t.dtype, device=t.device)
    keep[channels.to(t.device)] = 0
    return t * keep.view(1, -1, *([1] * (t.dim() - 2)))


@contextmanager
def ablate_channels(
    model: nn.Module, layer: str | nn.Module, channels: Sequence[int] | Tensor, *, key: str = "out"
) -> Iterator[nn.Module]:
    """Within the context, `layer`'s output has `channels` zeroed (B, C, H, W -> same shape).

    A forward hook returns a zeroed copy (the layer and the weights are not modified);
    dict outputs (torchvision's backbone) have their `key` entry zeroed. On exit the hook
    is removed and the model behaves exactly as before.
    """
    idx = torch.as_tensor(channels, dtype=torch.long).flatten()
    if idx.numel() and int(idx.min()) < 0:
        raise ChanposError(f"channel indices must be >= 0, got {int(idx.min())}")
    module = resolve_layer(model, layer)

    def hook(_m: nn.Module, _inp: Any, out: Any) -> Any:
        if isinstance(out, Tensor):
            return _zero_channels(out, idx)
        if isinstance(out, Mapping) and key in out:
            try:
                new = type(out)(out)  # dict, OrderedDict: same type, same entries
            except TypeError:
                new = dict(out)
            new[key] = _zero_channels(out[key], idx)
            return new
        raise ChanposError(f"cannot zero channels of a layer output of type {type(out).__name__}")

    handle = module.register_forward_hook(hook)
    try:
        yield model
    finally:
        handle.remove()


@dataclass(frozen=True)
class SegmentationParts:
    """A segmentation model split at the head's input: encode(x) -> (B, C, h, w),
    decode(features) -> logits (B, K, h', w') at feature resolution."""

    encode: Callable[[Tensor], Tensor]
    decode: Callable[[Tensor], Tensor]


def segmentation_parts(model: nn.Module, layer: str | None = None) -> SegmentationParts:
    """Split a torchvision-style model (`backbone` -> {"out": ...}, `classifier`) at the head,
    or a model with `split_at(layer)` (an imported graph: `models.real.DenseNetwork`) there.

    Other models: build `SegmentationParts` yourself (encode = everything up to the zeroed
    layer, decode = the rest without the final upsampling).
    """
    if hasattr(model, "split_at") and layer is not None:
        encode, decode = model.split_at(layer)
        return SegmentationParts(encode, decode)
    if not (hasattr(model, "backbone") and hasattr(model, "classifier")):
        raise ChanposError(
            f"{type(model).__name__} has no backbone/classifier pair; pass SegmentationParts "
            f"(encode, decode) for it"
        )

    def encode(x: Tensor) -> Tensor:
        return _feature_tensor(model.backbone(x))

    return SegmentationParts(encode, model.classifier)


def head_channels(model: nn.Module) -> int:
    """C, the number of channels of the head's input (the attacked layer of Claim 3)."""
    if hasattr(model, "classifier"):
        for m in model.classifier.modules():
            if isinstance(m, nn.Conv2d):
                return m.in_channels
    raise ChanposError(f"cannot find the head input of {type(model).__name__}")


def predict_labels(logits: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Class map (B, H, W) int64 of logits (B, K, h, w), bilinearly upsampled to `size` first.

    `max(1).indices` equals `argmax(1)` (first maximum on ties) and is ~10x faster on CPUs.
    """
    if size is not None and tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits.max(1).indices


@torch.no_grad()
def attack_confusions(
    parts: SegmentationParts | nn.Module,
    loader: Iterable[Any],
    channel_sets: Sequence[Tensor],
    num_classes: int,
    *,
    ignore_index: int = 255,
    device: torch.device | str | None = None,
    batch: Callable[[Any], tuple[Tensor, Tensor]] | None = None,
    progress: Callable[[int], None] | None = None,
    max_elements: int = 1 << 24,
    observe: Callable[[int, int, Tensor], None] | None = None,
) -> Tensor:
    """Confusion matrices for every channel set zeroed at the head input -> (S, ZONES, K, K).

    The backbone runs once per batch; the head runs once per (batch, channel set) on the
    cached features with the set's channels zeroed; logits are upsampled to the label
    resolution and compared there. Zones (see `zone_map`) give left/right/centre/all
    regions from the same counts (`region_confusion`). An empty set is the unattacked model.
    All sets' predictions of a batch go into one bincount (split only when S x B x H x W
    exceeds `max_elements`, e.g. full-resolution Cityscapes).
    `batch(b)` turns a loader batch into (images (B, 3, H, W) normalised, labels (B, H, W)).
    `observe(batch index, set index, scores)` sees every set's decoded scores (B, K, h, w),
    e.g. to score detections from the same head runs.
    """
    if isinstance(parts, nn.Module):
        model = parts
        model.eval()
        parts = segmentation_parts(model)
    to_xy = batch or (lambda b: (b[0], b[1]))
    sets = [torch.as_tensor(s, dtype=torch.long).flatten() for s in channel_sets]
    total: Tensor | None = None
    for i, item in enumerate(loader):
        x, y = to_xy(item)
        if device is not None:
            x, y = x.to(device), y.to(device)
        feats = parts.encode(x)
        size = (int(y.shape[-2]), int(y.shape[-1]))
        zones = zone_map(size[0], size[1], y.device)
        # as many sets per bincount as fit in `max_elements` (all of them for small images)
        per_chunk = max(1, max_elements // max(1, y.numel()))
        chunks = []
        for start in range(0, len(sets), per_chunk):
            preds = []
            for j, s in enumerate(sets[start:start + per_chunk], start):
                scores = parts.decode(_zero_channels(feats, s))
                if observe is not None:
                    observe(i, j, scores)
                preds.append(predict_labels(scores, size))
            preds = torch.stack(preds)  # (S', B, H, W)
            chunks.append(zone_confusions(preds, y, num_classes, ignore_index=ignore_index,
                                          zones=zones, num_zones=ZONES, check=False))
        counts = torch.cat(chunks)
        total = counts if total is None else total + counts
        if progress is not None:
            progress(i + 1)
    if total is None:
        raise ChanposError("no images to evaluate (the loader is empty)")
    return total.cpu()
