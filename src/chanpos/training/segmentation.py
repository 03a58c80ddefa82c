"""Training a segmentation model (Islam et al., ICCV 2021, Figures 4-6): a LightningModule
around any model that keeps torchvision's `{"out": logits}` contract.

`SegmentationSystem` is a `ClassifierSystem` (same optimiser, NaN guard, checkpoint spec,
precise-BN callback) whose loss is per-pixel cross-entropy with an ignore index. The batch
transform normalises uint8 images on the device and, in training, flips each image and its
label horizontally with probability 1/2 (the authors' Cityscapes training does the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassJaccardIndex

from ..models.spec import ModelSpec
from ..ops.flips import draw_flips, flip_where
from ..ops.normalise import Normalise
from .callbacks import MONITOR
from .options import OptimConfig
from .systems import ClassifierSystem

__all__ = ["SegmentationTransform", "SegmentationSystem", "segmentation_logits"]


def segmentation_logits(model: nn.Module, x: Tensor) -> Tensor:
    """(B, K, H, W) logits of a model returning a tensor or torchvision's {"out": ...}."""
    out = model(x)
    return out["out"] if isinstance(out, dict) else out


class SegmentationTransform:
    """(uint8 images (B, 3, H, W), labels (B, H, W)) -> (normalised float images, long labels).

    In training each sample is flipped horizontally with probability `flip_prob`, and a
    random `crop` (h, w) is cut out (one offset per batch) when given.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], *, flip_prob: float = 0.5,
                 crop: tuple[int, int] | None = None, channels_last: bool = False) -> None:
        self.normalise = Normalise(mean, std)
        self.flip_prob = flip_prob
        self.crop = tuple(crop) if crop else None
        self.channels_last = channels_last

    def __call__(self, batch: Any, train: bool) -> tuple[Tensor, Tensor]:
        images, labels = batch[0], batch[1]
        if train and self.crop is not None:
            h, w = images.shape[-2:]
            ch, cw = min(self.crop[0], h), min(self.crop[1], w)
            top = int(torch.randint(0, h - ch + 1, ()))
            left = int(torch.randint(0, w - cw + 1, ()))
            images = images[..., top:top + ch, left:left + cw]
            labels = labels[..., top:top + ch, left:left + cw]
        x, y = self.normalise(images), labels.long()
        if train and self.flip_prob > 0:
            flips = draw_flips(x.shape[0], self.flip_prob, device=x.device)
            x, y = flip_where(x, flips), flip_where(y, flips)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y


class SegmentationSystem(ClassifierSystem):
    """Per-pixel cross-entropy training of `model` (its output `["out"]` is (B, K, H, W))."""

    def __init__(
        self,
        model: nn.Module,
        *,
        num_classes: int,
        mean: Sequence[float],
        std: Sequence[float],
        optim: OptimConfig | None = None,
        flip_prob: float = 0.5,
        crop: tuple[int, int] | None = None,
        ignore_index: int = 255,
        model_spec: ModelSpec | None = None,
        channels_last: bool = False,
    ) -> None:
        self.transform = SegmentationTransform(mean, std, flip_prob=flip_prob, crop=crop)
        super().__init__(model, num_classes=num_classes, optim=optim or OptimConfig(),
                         batch_transform=self.transform, model_spec=model_spec,
                         channels_last=channels_last)
        self.ignore_index = ignore_index
        # classes absent from both prediction and target in the split do not count (as the
        # attack's own mIoU)
        self.val_iou = MulticlassJaccardIndex(num_classes=num_classes, ignore_index=ignore_index,
                                              average="macro", validate_args=False)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (B, K, H, W) at input resolution."""
        return segmentation_logits(self.model, x)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y = self.prepare(batch, True)
        logits = self(x)
        if logits.shape[-2:] != y.shape[-2:]:
            logits = F.interpolate(logits, size=y.shape[-2:], mode="bilinear", align_corners=False)
        loss = F.cross_entropy(logits, y, ignore_index=self.ignore_index)
        self.check_finite(loss)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """mIoU (percent) on the validation split, the metric the plateau rule watches."""
        x, y = self.prepare(batch, False)
        logits = segmentation_logits(self.evaluated, x)
        if logits.shape[-2:] != y.shape[-2:]:
            logits = F.interpolate(logits, size=y.shape[-2:], mode="bilinear", align_corners=False)
        self.val_iou.update(logits.max(1).indices, y)  # = argmax(1) (first maximum), faster on CPUs

    def on_validation_epoch_end(self) -> None:
        self.log(MONITOR, 100.0 * self.val_iou.compute(), prog_bar=True, sync_dist=True)
        self.val_iou.reset()
