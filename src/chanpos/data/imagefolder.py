"""An ImageNet-style folder source (`<root>/train/<class>/*.jpg`, `<root>/val/<class>/*.jpg`),
streamed from disk for Table 2's paper profile (Islam et al., ICCV 2021, Table 2 also reports
ImageNet).

Unlike the in-memory `ImageSet` sources, images are decoded per item (use DataLoader workers):
resize the shorter side to `resize`, centre-crop `size` x `size`, keep uint8. Items are
(image (3, size, size) uint8, label, 0) like `TileDataset`'s, so the same device-side
normalise / flip / shift code serves every source.

Class indices always come from `train/` (sorted class-folder names), for every split: a
`val/` that lacks a class must not shift the labels of the classes after it. A `val/` (or
`test/`) class folder that `train/` does not have is an error. A train class missing from
`val/` is allowed: labels still use train's index, so nothing shifts, and accuracy over the
classes present stays well defined (ImageNet evaluation subsets and trimmed `val/` folders
for quick runs lack classes by design).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from ..errors import ChanposError
from ._messages import DataFileError, one_line
from .sampling import balanced_subset, holdout_index
from .sources import ImageSet, register_source

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_EXTENSIONS", "FolderItems", "FolderSet",
           "class_folders", "load_image_folder"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class FolderItems(Dataset):
    """Image files with labels as (uint8 image (3, size, size), label, 0) items."""

    def __init__(self, files: list[Path], labels: list[int], *, size: int, resize: int) -> None:
        self.files, self.labels = files, labels
        self.size, self.resize = size, resize
        self._transform: Any = None

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> Any:
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise DataFileError(
                f"{path} is not a readable image ({one_line(exc)}); replace or remove the file"
            ) from None

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        if self._transform is None:  # built lazily: torchvision is imported in workers only
            from torchvision.transforms import v2

            self._transform = v2.Compose([v2.PILToTensor(),
                                          v2.Resize(self.resize, antialias=True),
                                          v2.CenterCrop(self.size)])
        image = self._transform(self._load(self.files[i]))
        return image, torch.tensor(self.labels[i]), torch.tensor(0)


@dataclass(frozen=True)
class FolderSet:
    """A streamed labelled image set: `dataset` yields (uint8 (3, size, size), label, 0).

    `labels` (N,) are the items' labels (for class-balanced subsets), `class_names` the
    class-folder names in label order (train's).
    """

    name: str
    dataset: Dataset
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int
    labels: Tensor | None = None
    class_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def subset(self, num_samples: int | None, seed: int = 0) -> FolderSet:
        """A seeded class-balanced `num_samples` items (`balanced_subset`; all if None or more)."""
        if num_samples is None or num_samples >= len(self):
            return self
        labels = self.labels if self.labels is not None else torch.zeros(len(self), dtype=torch.long)
        return self._take(labels, balanced_subset(labels, num_samples, seed))

    def holdout(self, num_samples: int, seed: int = 0) -> tuple[FolderSet, FolderSet]:
        """(the rest, a seeded class-balanced `num_samples` held out): a validation split."""
        labels = self.labels if self.labels is not None else torch.zeros(len(self), dtype=torch.long)
        rest, held = holdout_index(labels, num_samples, seed)
        return self._take(labels, rest), self._take(labels, held)

    def first_classes(self, n: int | None) -> FolderSet:
        """The items of classes 0 .. n-1 only, as an n-class set (all if None or n >=
        num_classes)."""
        if n is None or n >= self.num_classes:
            return self
        if self.labels is None:
            raise ValueError(f"{self.name}: no labels to choose classes by")
        return replace(self._take(self.labels, torch.nonzero(self.labels < n).flatten()),
                       num_classes=n, class_names=self.class_names[:n])

    def _take(self, labels: Tensor, idx: Tensor) -> FolderSet:
        return FolderSet(self.name, Subset(self.dataset, idx.tolist()), self.num_classes,
                         self.mean, self.std, self.size, labels[idx], self.class_names)


def class_folders(folder: Path) -> list[str]:
    """Sorted names of the class folders in `folder` (hidden folders such as .cache skipped)."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        for fname in sorted(filenames):
            if fname.lower().endswith(IMAGE_EXTENSIONS):
                files.append(Path(dirpath) / fname)
    return files


def _scan(folder: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    files: list[Path] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        if (folder / cls).is_dir():
            found = _image_files(folder / cls)
            files += found
            labels += [label] * len(found)
    return files, labels


def _folder_error(name: str, folder: Path) -> ChanposError:
    return ChanposError(
        f"{name}: {folder} not found; --data-root must hold train/ and val/, each with one "
        "folder per class"
    )


def load_image_folder(
    root: str | Path | None, split: str, *, size: int = 224, resize: int = 256,
    num_samples: int | None = None, name: str = "imagenet", seed: int = 0,
) -> FolderSet:
    """`<root>/<split>/<class>/<image>` as a `FolderSet` labelled with train's class index
    (split: train, or val / test); `num_samples` draws a class-balanced subset fixed by `seed`."""
    if root is None:
        raise ChanposError(
            f"source {name!r} needs --data-root DIR holding train/ and val/ class folders "
            "(ImageNet's layout)"
        )
    root = Path(root).expanduser()
    train_dir = root / "train"
    folder = root / split
    if split == "test" and not folder.is_dir():
        folder = root / "val"
    for needed in (train_dir, folder):
        if not needed.is_dir():
            raise _folder_error(name, needed)
    classes = class_folders(train_dir)
    if not classes:
        raise ChanposError(f"{name}: {train_dir} holds no class folders; put each class's "
                           "images in train/<class>/")
    if folder != train_dir:
        known = set(classes)
        unknown = [c for c in class_folders(folder) if c not in known]
        if unknown:
            more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
            raise ChanposError(
                f"{name}: class {unknown[0]!r}{more} is in {folder} but not in {train_dir}; "
                f"{folder.name}/ must use train/'s class folder names (rename or remove it)"
            )
    files, labels = _scan(folder, classes)
    if folder == train_dir:
        empty = sorted(set(range(len(classes))) - set(labels))
        if empty:
            raise ChanposError(
                f"{name}: class folder {train_dir / classes[empty[0]]} holds no images "
                f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder"
            )
    elif not files:
        raise ChanposError(f"{name}: {folder} holds no images in its class folders")
    items = FolderItems(files, labels, size=size, resize=resize)
    out = FolderSet(name, items, len(classes), IMAGENET_MEAN, IMAGENET_STD, size,
                    torch.tensor(labels, dtype=torch.long), tuple(classes))
    return out.subset(num_samples, seed)


@register_source("imagenet", kind="folder")
def _imagenet(*, split: str, data_root: str | Path | None, num_samples: int | None = None,
              seed: int = 0, **_: object) -> FolderSet:
    return load_image_folder(data_root, "val" if split == "test" else split, name="imagenet",
                             num_samples=num_samples, seed=seed)


# the most images the in-memory `folder` source loads per split (32 px: 3 kB each, 150 MB)
MAX_FOLDER_IMAGES = 50_000
FOLDER_SIZE = 32  # the side of the tiles the in-memory folder source gives (as every source)


@register_source("folder")
def _folder(*, split: str, data_root: str | Path | None, num_samples: int | None = None,
            seed: int = 0, **_: object) -> ImageSet:
    """A user's class-folder images (`<root>/train/<class>/*`, `<root>/test/` or `val/`) in
    memory as 32 px tiles, like the built-in sources, with ImageNet's normalisation (give a
    model's own with --mean/--std)."""
    folder = load_image_folder(data_root, split, size=FOLDER_SIZE, resize=FOLDER_SIZE,
                               name="folder", num_samples=num_samples, seed=seed)
    if len(folder) > MAX_FOLDER_IMAGES:
        raise ChanposError(f"source 'folder' loads at most {MAX_FOLDER_IMAGES} images per split "
                           f"into memory; {folder.dataset.files[0].parent.parent} holds "
                           f"{len(folder)}: use --train-samples/--test-samples (or fewer files)")
    items = [folder.dataset[i] for i in range(len(folder))]
    images = torch.stack([x for x, _, _ in items])
    labels = torch.tensor([int(y) for _, y, _ in items], dtype=torch.long)
    return ImageSet("folder", images, labels, folder.num_classes, IMAGENET_MEAN, IMAGENET_STD)
