"""`--source masks`: a researcher's image + mask folder, read exactly (sizes, labels, 255
ignored), bad folders one line each, and the attack of a checkpoint on it equal to the same
attack through `chanpos.api` on the same images."""

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchvision.io import write_png
from typer.testing import CliRunner

from chanpos import api
from chanpos.cli import app
from chanpos.data.maskfolder import IMAGENET_MEAN, IMAGENET_STD, load_mask_folder
from chanpos.data.segmentation import load_segmentation_source
from chanpos.errors import ChanposError
from chanpos.models import create_model, save_model_checkpoint

CLASSES = ("road", "sidewalk", "person")


def _write(root: Path, split: str, images: torch.Tensor, labels: torch.Tensor) -> None:
    (root / split / "images").mkdir(parents=True)
    (root / split / "masks").mkdir(parents=True)
    for i, (x, y) in enumerate(zip(images, labels, strict=True)):
        write_png(x, str(root / split / "images" / f"im{i:03d}.png"))
        write_png(y[None].to(torch.uint8), str(root / split / "masks" / f"im{i:03d}.png"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> tuple[Path, object, object]:
    root = tmp_path_factory.mktemp("masks")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    val = load_segmentation_source("streets", split="val", num_samples=8, image_size=(32, 64))
    train = load_segmentation_source("streets", split="train", num_samples=8,
                                     image_size=(32, 64))
    for split, data in (("val", val), ("train", train)):
        labels = data.labels.clone()
        labels[labels >= len(CLASSES)] = 255  # the folder's own classes; the rest unlabelled
        _write(root, split, data.images, labels)
    return root, val, train


def test_the_folder_is_read_exactly(folder) -> None:
    root, val, _ = folder
    data = load_mask_folder(root, "val", size=(32, 64))
    assert len(data) == 8 and data.class_names == CLASSES and data.ignore_index == 255
    assert torch.equal(data.images, val.images)     # same size: no resampling
    expect = val.labels.clone()
    expect[expect >= 3] = 255
    assert torch.equal(data.labels, expect)
    half = load_mask_folder(root, "val", size=(16, 32), num_samples=3)
    assert half.images.shape == (3, 3, 16, 32) and set(half.labels.unique().tolist()) <= {
        0, 1, 2, 255}


def test_a_bad_folder_is_one_line(folder, tmp_path: Path) -> None:
    root, _, _ = folder
    with pytest.raises(ChanposError, match="classes.txt not found"):
        load_mask_folder(tmp_path, "val", size=(32, 64))
    (tmp_path / "classes.txt").write_text("a\n")
    with pytest.raises(ChanposError, match="val/images not found"):
        load_mask_folder(tmp_path, "val", size=(32, 64))
    _write(tmp_path, "val", torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
           torch.full((1, 8, 8), 4))
    with pytest.raises(ChanposError, match="holds class 4 but classes.txt names 1"):
        load_mask_folder(tmp_path, "val", size=(8, 8))
    (tmp_path / "val" / "masks" / "im000.png").unlink()
    with pytest.raises(ChanposError, match="has no mask"):
        load_mask_folder(tmp_path, "val", size=(8, 8))


def _loader(data) -> DataLoader:
    return DataLoader(TensorDataset(data.images, data.labels.long()), batch_size=8)


def test_attack_on_the_folder_equals_the_library_call(folder, tmp_path: Path) -> None:
    root, _, _ = folder
    torch.manual_seed(0)
    net = create_model("deeplabv3_small", num_classes=3, width=4, head_channels=16).eval()
    ckpt = tmp_path / "model.pt"
    save_model_checkpoint(net, {"name": "deeplabv3_small",
                                "kwargs": {"num_classes": 3, "width": 4, "head_channels": 16}},
                          ckpt)
    res = CliRunner().invoke(app, [
        "attack", "--checkpoint", str(ckpt), "--source", "masks", "--data-root", str(root),
        "--image-size", "32,64", "--profile", "smoke", "--seeds", "0", "--no-progress",
        "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    (cli,) = json.loads(next((tmp_path / "cli").glob("attack-*/results.json")).read_text(
        ))["models"]
    lib = api.attack(net, _loader(load_mask_folder(root, "val", size=(32, 64))),
                     _loader(load_mask_folder(root, "train", size=(32, 64))),
                     mean=IMAGENET_MEAN, std=IMAGENET_STD, class_names=CLASSES,
                     profile="smoke", seeds=(0,), out=tmp_path / "lib")
    (mine,) = lib.results["models"]
    for key in ("baseline_miou", "ranking", "curves", "regions"):
        assert mine[key] == cli[key], key
