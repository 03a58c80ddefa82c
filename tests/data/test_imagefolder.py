from pathlib import Path

import pytest
import torch
from PIL import Image

from chanpos.data import FolderSet, load_image_folder
from chanpos.errors import ChanposError


def write_folder(root: Path, layout: dict[str, dict[str, int]], size: int = 12) -> None:
    """`layout[split][class] = count` tiny PNGs; pixel value = 10 * class position + index."""
    for split, classes in layout.items():
        for c, (cls, count) in enumerate(sorted(classes.items())):
            (root / split / cls).mkdir(parents=True)
            for i in range(count):
                value = 10 * c + i
                Image.new("RGB", (size + i, size), (value, value, value)).save(
                    root / split / cls / f"{i:03d}.png")


def load(root: Path, split: str, **kw: object) -> FolderSet:
    return load_image_folder(root, split, size=8, resize=8, **kw)


def _one_line_error(fn, *args: object, **kw: object) -> str:
    with pytest.raises(ChanposError) as info:
        fn(*args, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_val_uses_train_class_index_even_with_a_class_missing(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": {"ant": 2, "bee": 2, "cat": 2},
                            "val": {"ant": 1, "cat": 2}})
    train, val = load(tmp_path, "train"), load(tmp_path, "val")
    assert train.num_classes == val.num_classes == 3
    assert train.class_names == val.class_names == ("ant", "bee", "cat")
    assert val.labels.tolist() == [0, 2, 2]  # cat keeps label 2, not 1
    image, label, cell = val.dataset[1]
    assert image.shape == (3, 8, 8) and image.dtype == torch.uint8
    assert int(label) == 2 and int(cell) == 0
    test = load(tmp_path, "test")  # no test/: val stands in
    assert test.labels.tolist() == [0, 2, 2]


def test_unknown_val_class_is_one_line_naming_it_and_the_folders(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": {"ant": 1, "bee": 1}, "val": {"ant": 1, "bee": 1, "dog": 1}})
    message = _one_line_error(load, tmp_path, "val")
    assert "'dog'" in message and str(tmp_path / "val") in message
    assert str(tmp_path / "train") in message


def test_bad_layouts_are_one_line(tmp_path: Path) -> None:
    assert "needs --data-root" in _one_line_error(load, None, "train")
    assert "train/ and val/" in _one_line_error(load, tmp_path / "nope", "train")
    write_folder(tmp_path, {"train": {"ant": 1}})
    assert "train/ and val/" in _one_line_error(load, tmp_path, "val")  # no val/
    (tmp_path / "train" / "empty").mkdir()
    message = _one_line_error(load, tmp_path, "train")
    assert str(tmp_path / "train" / "empty") in message and "holds no images" in message
    (tmp_path / "train" / "empty").rmdir()
    (tmp_path / "train" / ".cache").mkdir()  # hidden folders are not classes
    assert load(tmp_path, "train").class_names == ("ant",)


@pytest.mark.parametrize("content", [b"not a png at all", b"truncated"])
def test_corrupt_image_is_one_line_naming_the_file(tmp_path: Path, content: bytes) -> None:
    write_folder(tmp_path, {"train": {"ant": 2}, "val": {"ant": 2}})
    bad = tmp_path / "val" / "ant" / "001.png"
    if content == b"truncated":  # a noisy PNG cut in half
        noise = torch.randint(0, 256, (64, 64, 3), dtype=torch.uint8).numpy()
        Image.fromarray(noise).save(bad)
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    else:
        bad.write_bytes(content)
    val = load(tmp_path, "val")
    assert val.dataset[0][0].shape == (3, 8, 8)
    message = _one_line_error(val.dataset.__getitem__, 1)
    assert str(bad) in message and "not a readable image" in message


def test_num_samples_is_a_seeded_class_balanced_subset(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": {"ant": 5, "bee": 5, "cat": 1}}, size=4)
    sub = load(tmp_path, "train", num_samples=7, seed=0)
    assert len(sub) == 7 and sorted(torch.bincount(sub.labels).tolist()) == [1, 3, 3]
    pixels = [int(sub.dataset[i][0][0, 0, 0]) for i in range(len(sub))]
    assert [p // 10 for p in pixels] == sub.labels.tolist()  # items and labels agree
    assert pixels != [0, 1, 2, 3, 4, 10, 11]  # not the first 7 in class order
    again = load(tmp_path, "train", num_samples=7, seed=0)
    assert torch.equal(again.labels, sub.labels)
    assert again.dataset.indices == sub.dataset.indices  # deterministic for a seed
    assert any(load(tmp_path, "train", num_samples=7, seed=s).dataset.indices
               != sub.dataset.indices for s in range(1, 6))
    assert len(sub.subset(3, seed=1)) == 3
    assert sorted(torch.bincount(sub.subset(3, seed=1).labels, minlength=3).tolist()) == [1, 1, 1]


def test_corrupt_image_in_a_dataloader_worker_is_still_one_line(tmp_path: Path) -> None:
    write_folder(tmp_path, {"train": {"ant": 2}})
    bad = tmp_path / "train" / "ant" / "001.png"
    bad.write_bytes(b"GIF89a? no")
    loader = torch.utils.data.DataLoader(load(tmp_path, "train").dataset, num_workers=1)
    message = _one_line_error(list, loader)
    assert message.startswith(f"{bad} is not a readable image")
