"""The segmentation data types (a leaf module: it imports torch only).

Every segmentation source of the channel attack (Islam et al., ICCV 2021, Figures 4-6)
yields (image (3, H, W) uint8, label (H, W) uint8) with class ids 0 .. K-1 and
`ignore_index` (255) for unlabelled pixels, and carries `names` (what `--rank-images`
lists), `class_names`, `palette`, `mean`/`std` (normalisation, applied on the device),
`ignore_index` and `num_classes`: the `SegmentationSource` protocol. `SegmentationSet` is the
in-memory implementation (procedural `streets`); Cityscapes streams from disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["SegmentationSource", "SegmentationSet", "collate_segmentation"]


@runtime_checkable
class SegmentationSource(Protocol):
    """What a segmentation source provides: (image (3, H, W) uint8, label (H, W) uint8) items
    and the metadata the attack, its report and its figures read."""

    @property
    def names(self) -> tuple[str, ...]:
        """One name per image (file stem), as `--rank-images` lists them."""
        ...

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, index = class id."""
        ...

    @property
    def palette(self) -> tuple[tuple[int, int, int], ...]:
        """Display colour (RGB) of every class."""
        ...

    @property
    def mean(self) -> tuple[float, float, float]:
        """Per-channel normalisation mean (of [0, 1] pixels)."""
        ...

    @property
    def std(self) -> tuple[float, float, float]:
        """Per-channel normalisation std (of [0, 1] pixels)."""
        ...

    @property
    def ignore_index(self) -> int:
        """The label of unlabelled pixels (255)."""
        ...

    @property
    def num_classes(self) -> int:
        """Number of classes (ids 0 .. num_classes-1)."""
        ...

    def select(self, index: list[int]) -> SegmentationSource:
        """The images at `index`, in that order (a validation split, a ranking subset)."""
        ...

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]: ...


@dataclass(frozen=True, eq=False)
class SegmentationSet(Dataset):
    """An in-memory segmentation set: images (N, 3, H, W) uint8, labels (N, H, W) uint8.

    `__getitems__` returns whole batches (one indexing op per batch, no per-sample work).
    """

    name: str
    images: Tensor
    labels: Tensor
    names: tuple[str, ...]
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    ignore_index: int = 255

    @property
    def num_classes(self) -> int:
        """Number of classes (ids 0 .. num_classes-1)."""
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]

    def __getitems__(self, idx: list[int]) -> list[tuple[Tensor, Tensor]]:
        t = torch.as_tensor(idx, dtype=torch.long)
        return [(self.images[t], self.labels[t])]

    def select(self, index: Tensor | list[int]) -> SegmentationSet:
        """The images at `index`, in that order."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return SegmentationSet(
            self.name, self.images[idx], self.labels[idx],
            tuple(self.names[i] for i in idx.tolist()), self.class_names, self.palette,
            self.mean, self.std, self.ignore_index,
        )

    def subset(self, num_samples: int | None) -> SegmentationSet:
        """The first `num_samples` images (all if None or larger than the set)."""
        if num_samples is None or num_samples >= len(self):
            return self
        return self.select(list(range(num_samples)))


def collate_segmentation(batch: list[Any]) -> tuple[Tensor, Tensor]:
    """Collate `__getitems__` output (already batched) or per-item (image, label) pairs."""
    if len(batch) == 1 and batch[0][0].dim() == 4:
        return batch[0][0], batch[0][1]
    images = [b[0] for b in batch]
    labels = [b[1] for b in batch]
    return torch.stack(images), torch.stack(labels)
