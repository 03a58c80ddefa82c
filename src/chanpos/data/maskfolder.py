"""A researcher's own segmentation images: `--source masks --data-root DIR`.

Layout: `DIR/classes.txt` (one class name per line, in label order), and per split
`DIR/<split>/images/<stem>.<png|jpg|jpeg>` with `DIR/<split>/masks/<stem>.png` (one channel,
each pixel its class index, 255 = unlabelled). Splits: `train` (held-out images for the
importance control, and training when no checkpoint is given) and `val` (evaluation and
ranking). Every image is resized to the attack's `--image-size` (bilinear; masks nearest) and
held in memory; ImageNet's normalisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ChanposError
from .segmentation_set import SegmentationSet

__all__ = ["load_mask_folder", "MAX_MASK_IMAGES"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_MASK_IMAGES = 20_000  # per split, in memory
IGNORE = 255


def _classes(root: Path) -> tuple[str, ...]:
    path = root / "classes.txt"
    if not path.is_file():
        raise ChanposError(f"source 'masks': {path} not found; write one class name per line, "
                           "in the order of the mask values")
    names = tuple(n.strip() for n in path.read_text(encoding="utf-8").splitlines() if n.strip())
    if not names or len(names) > IGNORE:
        raise ChanposError(f"source 'masks': {path} must name 1 to {IGNORE} classes, "
                           f"it names {len(names)}")
    return names


def _read(path: Path, mode) -> torch.Tensor:
    from torchvision.io import decode_image

    try:
        return decode_image(str(path), mode=mode)
    except (RuntimeError, ValueError) as exc:
        raise ChanposError(f"source 'masks': {path} is not a readable image "
                           f"({type(exc).__name__}); replace or remove it") from None


def load_mask_folder(root: str | Path | None, split: str, *, size: tuple[int, int],
                     num_samples: int | None = None) -> SegmentationSet:
    """`root/<split>/images` with `masks` as a `SegmentationSet` at `size` (H, W); the first
    `num_samples` images by file name (all if None)."""
    from torchvision.io import ImageReadMode

    if root is None:
        raise ChanposError("source 'masks' needs --data-root DIR holding classes.txt and "
                           "train/ and val/, each with images/ and masks/")
    root = Path(root).expanduser()
    classes = _classes(root)
    images_dir, masks_dir = root / split / "images", root / split / "masks"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise ChanposError(f"source 'masks': {folder} not found; --data-root must hold "
                               f"{split}/images/ and {split}/masks/")
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ChanposError(f"source 'masks': {images_dir} holds no images "
                           f"({', '.join(IMAGE_SUFFIXES)})")
    files = files[:num_samples] if num_samples is not None else files
    if len(files) > MAX_MASK_IMAGES:
        raise ChanposError(f"source 'masks' holds at most {MAX_MASK_IMAGES} images per split in "
                           f"memory; {images_dir} has {len(files)}: use --eval-samples / "
                           "--train-samples")
    xs, ys = [], []
    for path in files:
        mask_path = masks_dir / f"{path.stem}.png"
        if not mask_path.is_file():
            raise ChanposError(f"source 'masks': {path.name} has no mask {mask_path}; every "
                               "image needs masks/<its stem>.png")
        x = _read(path, ImageReadMode.RGB)
        y = _read(mask_path, ImageReadMode.GRAY)[0]
        if tuple(y.shape) != tuple(x.shape[-2:]):
            raise ChanposError(f"source 'masks': {mask_path} is {y.shape[1]}x{y.shape[0]} but "
                               f"its image is {x.shape[-1]}x{x.shape[-2]}; they must match")
        labelled = y[y != IGNORE]
        if labelled.numel() and int(labelled.max()) >= len(classes):
            raise ChanposError(f"source 'masks': {mask_path} holds class {int(labelled.max())} "
                               f"but classes.txt names {len(classes)} (0-{len(classes) - 1}, "
                               f"{IGNORE} = unlabelled)")
        xs.append(F.interpolate(x[None].float(), size=size, mode="bilinear",
                                align_corners=False).round().clamp(0, 255).to(torch.uint8)[0])
        ys.append(F.interpolate(y[None, None].float(), size=size, mode="nearest")
                  .to(torch.uint8)[0, 0])
    palette = tuple((37 * i % 256, 91 * i % 256, 157 * i % 256) for i in range(len(classes)))
    return SegmentationSet("masks", torch.stack(xs), torch.stack(ys),
                           tuple(p.stem for p in files), classes, palette, IMAGENET_MEAN,
                           IMAGENET_STD, ignore_index=IGNORE)
