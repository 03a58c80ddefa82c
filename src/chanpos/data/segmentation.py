"""Segmentation sources of the channel attack (Islam et al., ICCV 2021, Figures 4-6): the
loader, and `--rank-images` name lists.

Every source satisfies `SegmentationSource` (see `.segmentation_set`, which also holds
`SegmentationSet` and `collate_segmentation`, re-exported here): `streets` (built in,
procedural) and `cityscapes` (read from --data-root).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ChanposError
from ..names import BUILT_IN_SOURCES
from .cityscapes import CityscapesSegmentation
from .segmentation_set import SegmentationSet, SegmentationSource, collate_segmentation
from .sources import register_source, source_loader
from .streets import load_streets

__all__ = [
    "SEGMENTATION_SOURCES",
    "SegmentationSet",
    "SegmentationSource",
    "collate_segmentation",
    "load_segmentation_source",
    "read_name_list",
    "select_by_names",
]

SEGMENTATION_SOURCES: tuple[str, ...] = tuple(BUILT_IN_SOURCES["segmentation"])


def read_name_list(path: Path) -> list[str]:
    """Image names from a text file, one per line (blank lines and `#` comments skipped).

    Names may carry a folder or an extension (`frankfurt/x_leftImg8bit.png`): only the
    stem counts, so the authors' CityPerson.txt works as it is.
    """
    path = Path(path)
    if not path.is_file():
        raise ChanposError(f"--rank-images {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ChanposError(f"--rank-images {path} is not a text file; give a list of image "
                           "names, one per line") from None
    if "\x00" in text:
        raise ChanposError(f"--rank-images {path} is not a text file; give a list of image "
                           "names, one per line")
    names = []
    for line in text.splitlines():
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
) -> SegmentationSource:
    """A segmentation dataset: `streets` (train | val; `image_size`, `same_texture`,
    `mirror`) or `cityscapes` (train | val from `data_root`, images scaled by `scale`)."""
    return source_loader(name, "segmentation")(
        split=split, data_root=data_root, num_samples=num_samples, seed=seed,
        image_size=image_size, same_texture=same_texture, mirror=mirror, scale=scale)


@register_source("streets", kind="segmentation")
def _streets(*, split: str, num_samples: int | None, seed: int, image_size: tuple[int, int],
             same_texture: bool, mirror: float, **_: object) -> SegmentationSource:
    return load_streets(split=split, num_samples=num_samples, height=image_size[0],
                        width=image_size[1], seed=seed, same_texture=same_texture, mirror=mirror)


@register_source("text", kind="segmentation")
def _text(*, split: str, num_samples: int | None, seed: int, image_size: tuple[int, int],
          **_: object) -> SegmentationSource:
    from .text import render_text

    # train and val are disjoint draws of the same seed
    return render_text(num_samples or (500 if split == "train" else 100),
                       seed=2 * seed + (split != "train"), size=image_size)


@register_source("icdar2015", kind="segmentation")
def _icdar2015(*, split: str, data_root: str | Path | None, num_samples: int | None,
               image_size: tuple[int, int], **_: object) -> SegmentationSource:
    from .text import read_icdar2015

    if data_root is None:
        raise ChanposError("source 'icdar2015' needs --data-root (img_N.jpg with gt_img_N.txt)")
    if split == "train":
        raise ChanposError("source 'icdar2015' is read to attack a given text detector, not to "
                           "train one here")
    return read_icdar2015(data_root, size=image_size, num_samples=num_samples)


@register_source("masks", kind="segmentation")
def _masks(*, split: str, data_root: str | Path | None, num_samples: int | None,
           image_size: tuple[int, int], **_: object) -> SegmentationSource:
    from .maskfolder import load_mask_folder

    return load_mask_folder(data_root, split, size=tuple(image_size), num_samples=num_samples)


@register_source("cityscapes", kind="segmentation")
def _cityscapes(*, split: str, data_root: str | Path | None, num_samples: int | None,
                scale: float, **_: object) -> SegmentationSource:
    if data_root is None:
        raise ChanposError("source 'cityscapes' needs --data-root (the folder holding "
                           "leftImg8bit/ and gtFine/)")
    return CityscapesSegmentation(data_root, split=split, scale=scale, num_samples=num_samples)
