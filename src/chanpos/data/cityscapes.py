"""Cityscapes semantic segmentation from a local folder (the data of Islam et al., ICCV 2021,
Figures 4-6).

torchvision's folder layout: `<root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png` and
`<root>/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png` (the authors' `*_trainvaltest/`
parent folders are accepted too). Label ids map to the 19 train ids of the Cityscapes
benchmark; every other id becomes 255 (ignored). Images are decoded with torchvision.io.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ChanposError
from ._messages import DataFileError, one_line

__all__ = [
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_PALETTE",
    "CITYSCAPES_MEAN",
    "CITYSCAPES_STD",
    "LABEL_TO_TRAIN_ID",
    "CityscapesSegmentation",
    "to_train_ids",
]

CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)
CITYSCAPES_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32),
)
# ImageNet statistics, as the authors' (and torchvision's) Cityscapes training uses
CITYSCAPES_MEAN = (0.485, 0.456, 0.406)
CITYSCAPES_STD = (0.229, 0.224, 0.225)

# label id -> train id (cityscapesScripts' labels.py); ids not listed are ignored (255)
_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
              24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
LABEL_TO_TRAIN_ID = torch.full((256,), 255, dtype=torch.uint8)
for _label, _train in _TRAIN_IDS.items():
    LABEL_TO_TRAIN_ID[_label] = _train


def to_train_ids(label_ids: Tensor) -> Tensor:
    """Cityscapes label ids (any shape, uint8/int) -> train ids 0..18, 255 elsewhere (uint8)."""
    return LABEL_TO_TRAIN_ID[label_ids.long().clamp(0, 255)]


def _split_folders(root: Path, split: str) -> tuple[Path, Path]:
    for images, labels in (
        (root / "leftImg8bit" / split, root / "gtFine" / split),
        (root / "leftImg8bit_trainvaltest" / "leftImg8bit" / split,
         root / "gtFine_trainvaltest" / "gtFine" / split),
    ):
        if images.is_dir() and labels.is_dir():
            return images, labels
    raise ChanposError(
        f"--data-root {root} has no Cityscapes {split} folders: expected "
        f"leftImg8bit/{split}/<city>/ and gtFine/{split}/<city>/ (torchvision's layout)"
    )


def _read_png(path: Path, mode: object) -> Tensor:
    """Decode one PNG (uint8 (C, H, W)); an unreadable or corrupt file is a one-line error."""
    from torchvision.io import decode_image, read_file

    try:
        return decode_image(read_file(str(path)), mode=mode)
    except (RuntimeError, OSError, ValueError) as exc:
        raise DataFileError(
            f"{path} is not a readable PNG ({one_line(exc)}); replace it with the file from the "
            "Cityscapes archive"
        ) from None


class CityscapesSegmentation(Dataset):
    """Cityscapes fine annotations: items (image (3, H, W) uint8, train ids (H, W) uint8).

    Satisfies `SegmentationSource`.

    `scale` < 1 resizes images (bilinear, antialiased) and labels (nearest) on loading;
    `num_samples` keeps the first images in sorted file order.
    """

    ignore_index = 255
    class_names = CITYSCAPES_CLASSES
    palette = CITYSCAPES_PALETTE
    mean = CITYSCAPES_MEAN
    std = CITYSCAPES_STD

    def __init__(self, root: str | Path, *, split: str = "val", scale: float = 1.0,
                 num_samples: int | None = None) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise ChanposError(f"--data-root {root} does not exist")
        if split not in ("train", "val", "test"):
            raise ChanposError(f"unknown Cityscapes split {split!r}; use train, val or test")
        if not 0 < scale <= 1:
            raise ChanposError(f"--scale must be in (0, 1], got {scale}")
        image_dir, label_dir = _split_folders(root, split)
        self.images = sorted(image_dir.glob("*/*_leftImg8bit.png"))
        if not self.images:
            raise ChanposError(f"{image_dir} holds no <city>/*_leftImg8bit.png images")
        if num_samples is not None:
            self.images = self.images[:num_samples]
        self.labels = []
        for img in self.images:
            stem = img.name[: -len("_leftImg8bit.png")]
            label = label_dir / img.parent.name / f"{stem}_gtFine_labelIds.png"
            if not label.is_file():
                raise ChanposError(f"no label file {label} for image {img.name}")
            self.labels.append(label)
        self.names = tuple(p.name[:-4] for p in self.images)  # e.g. frankfurt_..._leftImg8bit
        self.scale = scale
        self.name = "cityscapes"

    @property
    def num_classes(self) -> int:
        """19 train ids."""
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.images)

    def select(self, index: list[int]) -> CityscapesSegmentation:
        """The images at `index`, in that order (a view: nothing is read)."""
        out = copy.copy(self)
        out.images = [self.images[i] for i in index]
        out.labels = [self.labels[i] for i in index]
        out.names = tuple(self.names[i] for i in index)
        return out

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        from torchvision.io import ImageReadMode

        image = _read_png(self.images[i], ImageReadMode.RGB)
        label = to_train_ids(_read_png(self.labels[i], ImageReadMode.GRAY)[0])
        if self.scale != 1:
            h, w = image.shape[-2:]
            size = (max(1, round(h * self.scale)), max(1, round(w * self.scale)))
            image = F.interpolate(image[None].float(), size=size, mode="bilinear",
                                  antialias=True, align_corners=False)[0]
            image = image.round().clamp(0, 255).to(torch.uint8)
            label = F.interpolate(label[None, None].float(), size=size, mode="nearest")[0, 0]
            label = label.to(torch.uint8)
        return image, label
