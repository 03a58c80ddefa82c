"""A researcher's own model on their own images: torchvision state dicts (plain, DataParallel,
Lightning) of five architectures audited, ranked and tested for consistency on a class
folder, with no --layer or --stages, the model's normalisation stated in every report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image
from typer.testing import CliRunner

from chanpos.cli import app

ARCHITECTURES = ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny",
                 "vgg16_bn"]
IMAGENET = ["--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]


def _folder(root: Path, per_class: int = 12) -> Path:
    g = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for c, cls in enumerate(("cat", "dog")):
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                arr = torch.randint(0, 128 + 127 * c, (40, 40, 3), generator=g, dtype=torch.uint8)
                Image.fromarray(arr.numpy()).save(root / split / cls / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return _folder(tmp_path_factory.mktemp("folder") / "pets")


def _weights(name: str, path: Path, layout: str) -> Path:
    torch.manual_seed(0)
    state = torchvision.models.get_model(name, weights=None, num_classes=2).state_dict()
    if layout == "dataparallel":
        state = {f"module.{k}": v for k, v in state.items()}
    elif layout == "lightning":
        state = {"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}
    torch.save(state, path)
    return path


def _run(args: list[str], out: Path) -> dict:
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output + res.stderr
    return json.loads(next(out.glob("*/results.json")).read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_rank_and_consistency_of_a_torchvision_state_dict_on_a_class_folder(
        tmp_path: Path, images: Path, name: str) -> None:
    weights = _weights(name, tmp_path / f"{name}.pth", "plain")
    data = ["--model", name, "--checkpoint", str(weights), "--source", "folder",
            "--data-root", str(images), *IMAGENET]
    ranked = _run(["rank", *data, "--samples", "8", "--batch-size", "4"], tmp_path / "rank")
    assert ranked["layer"] == ("layer4" if name == "resnet18" else "features")
    assert ranked["normalisation"]["from"] == "given on the command line"
    assert ranked["top_overlap_of_halves"] is not None
    cons = _run(["consistency", *data, "--test-samples", "8", "--max-shift", "2",
                 "--batch-size", "4"], tmp_path / "cons")
    assert cons["images"] == 8 and 0 <= cons["consistency_pct"] <= 100
    assert cons["normalisation"]["mean"] == [0.485, 0.456, 0.406]


SMALL = ["--profile", "smoke", "--source", "folder", "--replicates", "2",
         "--probe-samples", "16", "--probe-test-samples", "8", "--readout-samples", "8",
         "--readout-test-samples", "8", "--top-k", "4", "--no-progress", *IMAGENET]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "layout"), [("resnet18", "plain"),
                                              ("resnet18", "dataparallel"),
                                              ("mobilenet_v3_small", "lightning"),
                                              ("efficientnet_b0", "plain"),
                                              ("convnext_tiny", "plain")])
def test_audit_of_any_architecture_finds_its_layer_stages_and_stride(
        tmp_path: Path, images: Path, name: str, layout: str) -> None:
    weights = _weights(name, tmp_path / f"{name}.pth", layout)
    # a 5x5 depthwise conv padded by 2 needs maps of 3x3 for its circular twin: 96 px canvases
    size = ["--grid-size", "2"] if name == "resnet18" else ["--grid-size", "3",
                                                             "--image-size", "96"]
    doc = _run(["audit", "--model", name, "--checkpoint", str(weights), "--data-root",
                str(images), *size, *SMALL], tmp_path / "audit")
    assert doc["layer"] == ("layer4" if name == "resnet18" else "features")
    assert len(doc["stages"]) == 4 and doc["total_stride"] == 32
    assert "given on the command line" in doc["normalisation"]
    # the negative control ran: the measured stride divides the 32 px tile
    pooled = next(v for v in doc["verdicts"] if v["claim"] == "audit.pooled_position")
    assert "negative_control" in [c["check"] for c in pooled["checks"]]
    report = next((tmp_path / "audit").glob("*/report.md")).read_text()
    assert "Negative control: the probed layer's stride along the cell shifts is 32 px (measured)" in report


def test_chanpos_layers_lists_shapes_and_the_defaults(tmp_path: Path) -> None:
    weights = _weights("resnet18", tmp_path / "r.pth", "plain")
    doc = _run(["layers", "--model", "resnet18", "--checkpoint", str(weights), "--image-size",
                "64,64"], tmp_path / "layers")
    shapes = {r["layer"]: r["shape"] for r in doc["layers"]}
    assert shapes["layer4"] == [1, 512, 2, 2] and shapes["layer1"] == [1, 64, 16, 16]
    assert doc["layer"] == "layer4" and doc["stages"] == ["layer1", "layer2", "layer3",
                                                          "layer4"]
    assert {r["default"] for r in doc["layers"]} == {"layer", "stage", None}


def test_a_circular_twin_that_cannot_run_is_one_line(tmp_path: Path, images: Path) -> None:
    weights = _weights("mobilenet_v3_small", tmp_path / "m.pth", "plain")
    res = CliRunner().invoke(app, ["audit", "--model", "mobilenet_v3_small", "--checkpoint",
                                   str(weights), "--data-root", str(images), "--grid-size", "2",
                                   *SMALL, "--out", str(tmp_path / "runs")])
    assert res.exit_code == 2, res.output
    assert "circular-padding control of this model cannot run on 32 px readout images" in (
        res.stderr)
