"""`--model timm:NAME`: a timm architecture built without downloading, weights from a state
dict the test writes (prefixes stripped, class count read from the head), timm's statistics as
the model's own normalisation, one line for an unknown name or a missing timm."""

import json
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from chanpos.cli import app
from chanpos.errors import ChanposError
from chanpos.models import load_any_model, model_statistics

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False, num_classes=4).eval()
    path = tmp_path_factory.mktemp("timm") / "resnet18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    return net, path


@torch.no_grad()
def test_a_timm_state_dict_loads_into_the_named_architecture(saved) -> None:
    net, path = saved
    loaded, origin = load_any_model("timm:resnet18", path, num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    assert origin == str(path) and loaded(x).shape == (2, 4)   # 4 classes, from the file
    assert torch.equal(loaded(x), net(x))


def test_timm_statistics_are_the_models_own() -> None:
    mean, std = model_statistics("timm:resnet18", None)
    assert mean == pytest.approx((0.485, 0.456, 0.406)) and std == pytest.approx(
        (0.229, 0.224, 0.225))
    assert model_statistics("resnet18", None) == (None, None)  # torchvision: nothing says


def test_a_wrong_timm_file_or_name_is_one_line(saved, tmp_path: Path, monkeypatch) -> None:
    _, path = saved
    with pytest.raises(ChanposError, match="timm has no architecture 'resnet_nope'"):
        load_any_model("timm:resnet_nope", path, 4)
    with pytest.raises(ChanposError, match=r"does not match timm's vgg11.*missing keys"):
        load_any_model("timm:vgg11", path, 4)
    monkeypatch.setitem(sys.modules, "timm", None)  # timm not installed
    with pytest.raises(ChanposError, match=r"needs timm: pip install 'chanpos\[timm\]'"):
        load_any_model("timm:resnet18", path, 4)


def test_audit_of_a_timm_model_finds_its_layer_and_statistics(saved, tmp_path: Path) -> None:
    _, path = saved
    res = CliRunner().invoke(app, [
        "audit", "--model", "timm:resnet18", "--checkpoint", str(path), "--replicates", "2",
        "--probe-samples", "40", "--probe-test-samples", "20", "--image-size", "32",
        "--readout-samples", "16", "--readout-test-samples", "8", "--readout-size", "12",
        "--readout-epochs", "1", "--top-k", "4", "--random-draws", "1", "--grid-size", "2",
        "--source", "shapes", "--no-progress", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(next(tmp_path.glob("audit-*/results.json")).read_text())
    assert doc["layer"] == "layer4" and doc["stages"] == ["layer1", "layer2", "layer3", "layer4"]
    assert "the model's own" in doc["normalisation"] and "0.229" in doc["normalisation"]
    assert doc["total_stride"] == 32
