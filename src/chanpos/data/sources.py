"""The data-source registry: every source chanpos can read, with its kind.

One registry knows each source's kind (`chanpos.names.SOURCE_KINDS`):
- `classification`: loads into memory as an `ImageSet` (uint8 images + labels), which keeps
  per-sample work off the hot path: batches are indexed straight out of one tensor.
  Registered here: `shapes`, `shapes-hard`, `cifar10`, `cifar100` (read by `.cifar`); the
  real offline sets `digits` and `mnist` register from `.offline`;
- `folder`: an ImageNet-style class folder streamed from disk (`imagenet`, `.imagefolder`);
- `segmentation`: images with label maps (`streets`, `cityscapes`, `.segmentation`).
`chanpos.data` imports every module that registers one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ChanposError
from ..names import SOURCE_KINDS
from .cifar import CIFAR_LAYOUT, read_cifar
from .sampling import balanced_subset, holdout_index
from .shapes import make_shapes

__all__ = [
    "ImageSet",
    "TileDataset",
    "source_names",
    "source_kind",
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
        return self._take(idx)

    def holdout(self, num_samples: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """(the rest, a seeded class-balanced `num_samples` held out): a validation split."""
        rest, held = holdout_index(self.labels, num_samples, seed)
        return self._take(rest), self._take(held)

    def first_classes(self, n: int | None) -> ImageSet:
        """The images of classes 0 .. n-1 only, in stored order, as an n-class set (all if
        None or n >= num_classes): a smaller classification problem on the same images."""
        if n is None or n >= self.num_classes:
            return self
        return replace(self._take(torch.nonzero(self.labels < n).flatten()), num_classes=n)

    def _take(self, idx: Tensor) -> ImageSet:
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


Loader = Callable[..., Any]
_SOURCES: dict[str, tuple[str, Loader]] = {}


def register_source(name: str, kind: str = "classification") -> Callable[[Loader], Loader]:
    """Decorator registering the loader of source `name` of `kind` (classification: returns an
    `ImageSet`; folder: a `FolderSet`; segmentation: a `SegmentationSource`)."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}")

    def wrap(fn: Loader) -> Loader:
        if name in _SOURCES:
            raise ValueError(f"source {name!r} is already registered")
        _SOURCES[name] = (kind, fn)
        return fn

    return wrap


def source_names(*kinds: str) -> list[str]:
    """Names of the registered sources of the given kinds (every kind if none given)."""
    return sorted(n for n, (k, _) in _SOURCES.items() if not kinds or k in kinds)


def source_kind(name: str) -> str:
    """The kind of source `name` (a ChanposError listing the sources if it is unknown)."""
    if name not in _SOURCES:
        raise ChanposError(f"unknown source {name!r}; choose one of: {', '.join(source_names())}")
    return _SOURCES[name][0]


def source_loader(name: str, kind: str) -> Loader:
    """The loader of source `name`, which must be of `kind`."""
    if name not in _SOURCES or _SOURCES[name][0] != kind:
        raise ChanposError(f"unknown {kind} source {name!r}; choose one of: "
                           f"{', '.join(source_names(kind))}")
    return _SOURCES[name][1]


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
    loader = source_loader(name, "classification")
    if split not in ("train", "test"):
        raise ChanposError(f"unknown split {split!r}; use train or test")
    root = Path(data_root).expanduser() if data_root else None
    images = loader(
        split=split, data_root=root, download=download, num_samples=num_samples, seed=seed
    )
    return images.subset(num_samples, seed)


# the most images a procedural source draws for one split (3 kB each: 150 MB)
MAX_GENERATED = 50_000


def _generated(name: str, split: str, num_samples: int | None) -> int:
    """How many images a procedural source draws: its split's size, or `num_samples` up to
    `MAX_GENERATED` (a larger count is one line, not minutes of drawing)."""
    if num_samples is not None and num_samples > MAX_GENERATED:
        raise ChanposError(f"source {name!r} draws at most {MAX_GENERATED} images per split; "
                           f"{num_samples} were asked for")
    return num_samples or (5000 if split == "train" else 1000)


@register_source("shapes")
def _shapes(*, split: str, num_samples: int | None, seed: int, **_: object) -> ImageSet:
    n = _generated("shapes", split, num_samples)
    # train and test draw from disjoint seeds so no test image is a training image
    images, labels = make_shapes(n, seed=seed * 2 + (0 if split == "train" else 1) + 1000)
    mean = (0.5, 0.5, 0.5)
    std = (0.25, 0.25, 0.25)
    return ImageSet("shapes", images, labels, 10, mean, std)


@register_source("shapes-hard")
def _shapes_hard(*, split: str, num_samples: int | None, seed: int, **_: object) -> ImageSet:
    """`shapes` with smaller, noisier, more jittered shapes (Table 2: a baseline whose shift
    consistency is not saturated at quick budgets)."""
    n = _generated("shapes-hard", split, num_samples)
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
            try:
                getattr(torchvision.datasets, tv_name)(str(data_root), train=True, download=True)
            except (OSError, RuntimeError) as exc:  # URLError is an OSError
                reason = getattr(exc, "reason", None) or exc
                raise ChanposError(f"downloading {name} into {data_root} failed ({reason}); "
                                   f"check the network, or put {folder}/ there by hand") from None
        elif not data_root.is_dir():
            raise ChanposError(f"--data-root {data_root} does not exist")
        images, labels = read_cifar(name, data_root, split)
        return ImageSet(name, images, labels, classes, CIFAR_MEAN, CIFAR_STD)

    return load


register_source("cifar10")(_cifar_loader("cifar10"))
register_source("cifar100")(_cifar_loader("cifar100"))
