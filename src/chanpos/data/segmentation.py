"""Segmentation data (PAPER.md Claim 3): in-memory sets, batching, and the source loader.

Every segmentation dataset yields (image (3, H, W) uint8, label (H, W) uint8) with class ids
0 .. K-1 and `ignore_index` (255) for unlabelled pixels, and carries `names` (what
`--rank-images` lists), `class_names`, `palette`, `mean`/`std` (normalisation, applied on
the device) and `ignore_index`. Sources: `streets` (built in, procedural) and `cityscapes`
(read from --data-root).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ChanposError

__all__ = [
    "SEGMENTATION_SOURCES",
    "SegmentationSet",
    "collate_segmentation",
    "load_segmentation_source",
    "read_name_list",
    "select_by_names",
]

SEGMENTATION_SOURCES: tuple[str, ...] = ("streets", "cityscapes")


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


def read_name_list(path: Path) -> list[str]:
    """Image names from a text file, one per line (blank lines and `#` comments skipped).

    Names may carry a folder or an extension (`frankfurt/x_leftImg8bit.png`): only the
    stem counts, so the authors' CityPerson.txt works as it is.
    """
    path = Path(path)
    if not path.is_file():
        raise ChanposError(f"--rank-images {path} does not exist")
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(_stem(line))
    if not names:
        raise ChanposError(f"--rank-images {path} lists no image names")
    return names


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".png") else base


def select_by_names(names: tuple[str, ...] | list[str], wanted: list[str]) -> list[int]:
    """Indices of `wanted` names in `names` (order of `wanted`); unknown names are an error."""
    where = {_stem(n): i for i, n in enumerate(names)}
    missing = [w for w in wanted if w not in where]
    if missing:
        raise ChanposError(
            f"{len(missing)} of {len(wanted)} --rank-images names are not in the evaluation "
            f"images (first: {missing[0]!r}; names look like {next(iter(where), '?')!r})"
        )
    return [where[w] for w in wanted]


def load_segmentation_source(
    name: str,
    *,
    split: str,
    data_root: str | Path | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    image_size: tuple[int, int] = (64, 128),
    same_texture: bool = False,
    mirror: float = 0.0,
    scale: float = 1.0,
) -> Dataset:
    """A segmentation dataset: `streets` (train | val; `image_size`, `same_texture`,
    `mirror`) or `cityscapes` (train | val from `data_root`, images scaled by `scale`)."""
    if name == "streets":
        from .streets import load_streets

        return load_streets(split=split, num_samples=num_samples, height=image_size[0],
                            width=image_size[1], seed=seed, same_texture=same_texture,
                            mirror=mirror)
    if name == "cityscapes":
        from .cityscapes import CityscapesSegmentation

        if data_root is None:
            raise ChanposError("source 'cityscapes' needs --data-root (the folder holding "
                               "leftImg8bit/ and gtFine/)")
        return CityscapesSegmentation(data_root, split=split, scale=scale, num_samples=num_samples)
    raise ChanposError(
        f"unknown segmentation source {name!r}; choose one of: {', '.join(SEGMENTATION_SOURCES)}"
    )
