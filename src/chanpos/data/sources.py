"""The image-source registry: built-in offline sets and real datasets read from --data-root.

Classification sources load into memory as an `ImageSet` (uint8 images + labels), which
keeps per-sample work off the hot path: batches are indexed straight out of one tensor.
Registered here: `shapes`, `shapes-hard`, `cifar10`, `cifar100` (read by `.cifar`); the real
offline sets `digits` and `mnist` register from `.offline`, which `chanpos.data` imports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ChanposError
from .cifar import CIFAR_LAYOUT, read_cifar
from .sampling import balanced_subset
from .shapes import make_shapes

__all__ = [
    "ImageSet",
    "TileDataset",
    "CLASSIFICATION_SOURCES",
    "load_source",
    "register_source",
    "read_cifar",
]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)  # the authors' values (PermuteNet trainval_*.py)


@dataclass(frozen=True)
class ImageSet:
    """An in-memory labelled image set: images (N, 3, H, W) uint8, labels (N,) int64."""

    name: str
    images: Tensor
    labels: Tensor
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, num_samples: int | None, seed: int = 0) -> ImageSet:
        """A seeded class-balanced `num_samples` images, in stored order (all if None or more)."""
        if num_samples is None or num_samples >= len(self):
            return self
        idx = balanced_subset(self.labels, num_samples, seed)
        return ImageSet(self.name, self.images[idx], self.labels[idx], self.num_classes,
                        self.mean, self.std)


class TileDataset(Dataset):
    """(image uint8 (3, H, W), label, cell) items; `__getitems__` fetches whole batches at once.

    `cells` are the fixed grid cells used in evaluation (drawn once from `seed`).
    """

    def __init__(self, images: ImageSet, *, grid_size: int = 1, seed: int = 0) -> None:
        self.images = images
        g = torch.Generator().manual_seed(seed)
        self.cells = torch.randint(0, grid_size**2, (len(images),), generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        return self.images.images[i], self.images.labels[i], self.cells[i]

    def __getitems__(self, idx: list[int]) -> list[tuple[Tensor, Tensor, Tensor]]:
        t = torch.as_tensor(idx)
        return [(self.images.images[t], self.images.labels[t], self.cells[t])]

    @staticmethod
    def collate(batch: list[tuple[Tensor, Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor]:
        """Collate for `__getitems__` output (already batched) and plain per-item lists."""
        if len(batch) == 1 and batch[0][0].dim() == 4:
            return batch[0]
        images, labels, cells = zip(*batch, strict=False)
        return torch.stack(images), torch.stack(labels), torch.stack(cells)


Loader = Callable[..., ImageSet]
_SOURCES: dict[str, Loader] = {}


def register_source(name: str) -> Callable[[Loader], Loader]:
    """Decorator registering an in-memory classification source under `name`."""

    def wrap(fn: Loader) -> Loader:
        if name in _SOURCES:
            raise ValueError(f"source {name!r} is already registered")
        _SOURCES[name] = fn
        return fn

    return wrap


def load_source(
    name: str,
    *,
    split: str = "train",
    data_root: str | Path | None = None,
    download: bool = False,
    num_samples: int | None = None,
    seed: int = 0,
) -> ImageSet:
    """Load classification source `name` (`split` train|test); `num_samples` draws a
    class-balanced subset fixed by `seed` (`ImageSet.subset`)."""
    if name not in _SOURCES:
        raise ChanposError(
            f"unknown source {name!r}; choose one of: {', '.join(CLASSIFICATION_SOURCES())}"
        )
    if split not in ("train", "test"):
        raise ChanposError(f"unknown split {split!r}; use train or test")
    root = Path(data_root).expanduser() if data_root else None
    images = _SOURCES[name](
        split=split, data_root=root, download=download, num_samples=num_samples, seed=seed
    )
    return images.subset(num_samples, seed)


def CLASSIFICATION_SOURCES() -> list[str]:  # noqa: N802 (reads like the constant it replaces)
    """Names of the registered classification sources."""
    return sorted(_SOURCES)


@register_source("shapes")
def _shapes(*, split: str, num_samples: int | None, seed: int, **_: object) -> ImageSet:
    n = num_samples or (5000 if split == "train" else 1000)
    # train and test draw from disjoint seeds so no test image is a training image
    images, labels = make_shapes(n, seed=seed * 2 + (0 if split == "train" else 1) + 1000)
    mean = (0.5, 0.5, 0.5)
    std = (0.25, 0.25, 0.25)
    return ImageSet("shapes", images, labels, 10, mean, std)


@register_source("shapes-hard")
def _shapes_hard(*, split: str, num_samples: int | None, seed: int, **_: object) -> ImageSet:
    """`shapes` with smaller, noisier, more jittered shapes (Table 2: a baseline whose shift
    consistency is not saturated at quick budgets)."""
    n = num_samples or (5000 if split == "train" else 1000)
    images, labels = make_shapes(n, seed=seed * 2 + (0 if split == "train" else 1) + 1000,
                                 noise=0.12, min_radius=0.18, max_radius=0.36, jitter=0.15)
    return ImageSet("shapes-hard", images, labels, 10, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def _cifar_loader(name: str) -> Loader:
    def load(*, split: str, data_root: Path | None, download: bool, **_: object) -> ImageSet:
        folder, _, _, _, classes, tv_name = CIFAR_LAYOUT[name]
        if data_root is None:
            raise ChanposError(
                f"source {name!r} needs --data-root DIR (the folder holding {folder}/); "
                f"add --download to fetch it there"
            )
        if download and not (data_root / folder).is_dir():
            import torchvision

            data_root.mkdir(parents=True, exist_ok=True)
            getattr(torchvision.datasets, tv_name)(str(data_root), train=True, download=True)
        elif not data_root.is_dir():
            raise ChanposError(f"--data-root {data_root} does not exist")
        images, labels = read_cifar(name, data_root, split)
        return ImageSet(name, images, labels, classes, CIFAR_MEAN, CIFAR_STD)

    return load


register_source("cifar10")(_cifar_loader("cifar10"))
register_source("cifar100")(_cifar_loader("cifar100"))
