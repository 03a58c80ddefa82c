"""An ImageNet-style folder source (`<root>/train/<class>/*.jpg`, `<root>/val/<class>/*.jpg`),
streamed from disk for Table 2's paper profile (PAPER.md Claim 2: "ImageNet also reported").

Unlike the in-memory `ImageSet` sources, images are decoded per item (use DataLoader workers):
resize the shorter side to `resize`, centre-crop `size` x `size`, keep uint8. Items are
(image (3, size, size) uint8, label, 0) like `TileDataset`'s, so the same device-side
normalise / flip / shift code serves every source.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from ..errors import ChanposError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "FolderSet", "load_image_folder"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Items(Dataset):
    """torchvision ImageFolder items as (uint8 image, label, 0)."""

    def __init__(self, folder: Dataset) -> None:
        self.folder = folder

    def __len__(self) -> int:
        return len(self.folder)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        image, label = self.folder[i]
        return image, torch.tensor(label), torch.tensor(0)


@dataclass(frozen=True)
class FolderSet:
    """A streamed labelled image set: `dataset` yields (uint8 (3, size, size), label, 0)."""

    name: str
    dataset: Dataset
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def subset(self, num_samples: int | None) -> FolderSet:
        """The first `num_samples` items (all if None or larger than the set)."""
        if num_samples is None or num_samples >= len(self):
            return self
        if num_samples < 1:
            raise ChanposError(f"sample count must be >= 1, got {num_samples}")
        return FolderSet(self.name, Subset(self.dataset, range(num_samples)), self.num_classes,
                         self.mean, self.std, self.size)


def load_image_folder(
    root: str | Path | None, split: str, *, size: int = 224, resize: int = 256,
    num_samples: int | None = None, name: str = "imagenet",
) -> FolderSet:
    """`<root>/<split>/<class>/<image>` as a `FolderSet` (split: train, or val / test)."""
    from torchvision import datasets
    from torchvision.transforms import v2

    if root is None:
        raise ChanposError(
            f"source {name!r} needs --data-root DIR holding train/ and val/ class folders "
            "(ImageNet's layout)"
        )
    root = Path(root).expanduser()
    folder = root / split
    if split == "test" and not folder.is_dir():
        folder = root / "val"
    if not folder.is_dir():
        raise ChanposError(
            f"{name}: {folder} not found; --data-root must hold train/ and val/, each with one "
            "folder per class"
        )
    transform = v2.Compose([v2.PILToTensor(), v2.Resize(resize, antialias=True),
                            v2.CenterCrop(size)])
    try:
        images = datasets.ImageFolder(str(folder), transform=transform)
    except (FileNotFoundError, RuntimeError) as exc:
        raise ChanposError(f"{name}: cannot read {folder} as class folders ({exc})") from None
    out = FolderSet(name, _Items(images), len(images.classes), IMAGENET_MEAN, IMAGENET_STD, size)
    return out.subset(num_samples)
