"""The image-source registry: built-in offline sets and real datasets read from --data-root.

Classification sources load into memory as an `ImageSet` (uint8 images + labels), which
keeps per-sample work off the hot path: batches are indexed straight out of one tensor.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import ChanposError
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

    def subset(self, num_samples: int | None) -> ImageSet:
        """The first `num_samples` images (all if None or larger than the set)."""
        if num_samples is None or num_samples >= len(self):
            return self
        if num_samples < 1:
            raise ChanposError(f"sample count must be >= 1, got {num_samples}")
        return ImageSet(
            self.name,
            self.images[:num_samples],
            self.labels[:num_samples],
            self.num_classes,
            self.mean,
            self.std,
        )


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
    """Load classification source `name` (`split` train|test), first `num_samples` images."""
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
    return images.subset(num_samples)


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


@register_source("digits")
def _digits(*, split: str, seed: int, **_: object) -> ImageSet:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # optional dependency
        raise ChanposError(
            "source 'digits' needs scikit-learn: pip install 'chanpos[digits]'"
        ) from exc
    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(12345))
    cut = int(0.8 * len(y))
    idx = perm[:cut] if split == "train" else perm[cut:]
    x = F.interpolate(x[idx], size=(32, 32), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1).expand(-1, 3, -1, -1) * 255).round().to(torch.uint8).contiguous()
    return ImageSet("digits", images, y[idx], 10, (0.2, 0.2, 0.2), (0.3, 0.3, 0.3))


_CIFAR_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch",
                b"labels", 10, "CIFAR10"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels", 100, "CIFAR100"),
}


def read_cifar(name: str, root: Path, split: str) -> tuple[Tensor, Tensor]:
    """Read CIFAR-10/100 python pickles under `root` -> (N, 3, 32, 32) uint8, (N,) labels."""
    folder, train_files, test_file, key, _, _ = _CIFAR_LAYOUT[name]
    files = train_files if split == "train" else [test_file]
    data, labels = [], []
    for fname in files:
        path = root / folder / fname
        if not path.is_file():
            raise ChanposError(
                f"{name}: {path} not found; point --data-root at the folder holding {folder}/ "
                f"or add --download"
            )
        with open(path, "rb") as fh:
            try:
                entry = pickle.load(fh, encoding="bytes")
                data.append(np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                labels.extend(int(v) for v in entry[key])
            except Exception as exc:  # corrupt or foreign file
                raise ChanposError(f"{name}: {path} is not a CIFAR batch file ({exc})") from exc
    return torch.from_numpy(np.concatenate(data)), torch.tensor(labels, dtype=torch.long)


def _cifar_loader(name: str) -> Loader:
    def load(*, split: str, data_root: Path | None, download: bool, **_: object) -> ImageSet:
        folder, _, _, _, classes, tv_name = _CIFAR_LAYOUT[name]
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
