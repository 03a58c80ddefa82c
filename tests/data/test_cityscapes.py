from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from chanpos.data import (
    CityscapesSegmentation,
    SegmentationSource,
    load_segmentation_source,
    read_name_list,
    to_train_ids,
)
from chanpos.data.segmentation import select_by_names
from chanpos.errors import ChanposError


def write_cityscapes(root: Path, split: str = "val", cities: tuple[str, ...] = ("aachen", "bonn"),
                     size: tuple[int, int] = (8, 16)) -> list[str]:
    """Tiny files in torchvision's layout; label ids cover road, car, bicycle, unlabeled."""
    names = []
    g = torch.Generator().manual_seed(0)
    for c, city in enumerate(cities):
        img_dir = root / "leftImg8bit" / split / city
        lab_dir = root / "gtFine" / split / city
        img_dir.mkdir(parents=True)
        lab_dir.mkdir(parents=True)
        stem = f"{city}_000000_{c:06d}"
        write_png(torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=g),
                  str(img_dir / f"{stem}_leftImg8bit.png"))
        ids = torch.tensor([7, 26, 33, 0, 8, 24, 1, 23], dtype=torch.uint8).repeat(size[0], 2)
        write_png(ids[None], str(lab_dir / f"{stem}_gtFine_labelIds.png"))
        names.append(f"{stem}_leftImg8bit")
    return names


def test_label_ids_map_to_19_train_ids() -> None:
    ids = torch.tensor([7, 8, 11, 26, 33, 0, 1, 6, 9, 34, 255])
    assert to_train_ids(ids).tolist() == [0, 1, 2, 13, 18, 255, 255, 255, 255, 255, 255]


def test_reads_torchvision_layout(tmp_path: Path) -> None:
    names = write_cityscapes(tmp_path)
    data = CityscapesSegmentation(tmp_path, split="val")
    assert len(data) == 2 and data.names == tuple(names) and data.num_classes == 19
    image, label = data[0]
    assert image.shape == (3, 8, 16) and image.dtype == torch.uint8
    assert label[0, :8].tolist() == [0, 13, 18, 255, 1, 11, 255, 10]
    half = load_segmentation_source("cityscapes", split="val", data_root=tmp_path, scale=0.5)
    img2, lab2 = half[1]
    assert img2.shape == (3, 4, 8) and lab2.shape == (4, 8)
    assert set(lab2.unique().tolist()) <= {0, 1, 10, 11, 13, 18, 255}


def test_rank_image_list_selects_by_name(tmp_path: Path) -> None:
    names = write_cityscapes(tmp_path)
    listing = tmp_path / "CityPerson.txt"
    listing.write_text(f"# region images\n{names[1]}\n\nbonn/{names[1]}.png\n")
    wanted = read_name_list(listing)
    assert select_by_names(names, wanted) == [1, 1]
    listing.write_text("frankfurt_000000_009688_leftImg8bit\n")
    with pytest.raises(ChanposError, match="not in the evaluation images"):
        select_by_names(names, read_name_list(listing))
    with pytest.raises(ChanposError, match="does not exist"):
        read_name_list(tmp_path / "missing.txt")


def test_bad_roots_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(ChanposError, match="does not exist"):
        CityscapesSegmentation(tmp_path / "nowhere")
    with pytest.raises(ChanposError, match=r"leftImg8bit/val/<city>/ and gtFine/val/<city>/"):
        CityscapesSegmentation(tmp_path)
    write_cityscapes(tmp_path)
    next((tmp_path / "gtFine" / "val" / "bonn").glob("*.png")).unlink()
    with pytest.raises(ChanposError, match="no label file"):
        CityscapesSegmentation(tmp_path)
    with pytest.raises(ChanposError, match="needs --data-root"):
        load_segmentation_source("cityscapes", split="val")


def test_satisfies_the_segmentation_source_protocol(tmp_path: Path) -> None:
    write_cityscapes(tmp_path)
    assert isinstance(CityscapesSegmentation(tmp_path, split="val"), SegmentationSource)


@pytest.mark.parametrize("which", ["leftImg8bit", "gtFine"])
def test_corrupt_png_is_one_line_naming_the_file(tmp_path: Path, which: str) -> None:
    write_cityscapes(tmp_path)
    bad = sorted((tmp_path / which / "val" / "bonn").glob("*.png"))[0]
    bad.write_bytes(bad.read_bytes()[:40])
    data = CityscapesSegmentation(tmp_path, split="val")
    assert data[0][0].shape == (3, 8, 16)  # aachen is fine
    with pytest.raises(ChanposError) as info:
        data[1]
    message = str(info.value)
    assert "\n" not in message and str(bad) in message and "not a readable PNG" in message
    bad.unlink()  # gone after listing: also one line
    with pytest.raises(ChanposError, match="not a readable PNG"):
        data[1]
