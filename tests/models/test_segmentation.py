from pathlib import Path

import pytest
import torch

from chanpos.errors import ChanposError
from chanpos.models import (
    SEGMENTATION_MODELS,
    create_model,
    load_segmentation_checkpoint,
    padding_of,
    save_model_checkpoint,
)
from chanpos.probes.ablation import head_channels


@pytest.mark.parametrize("stride", [16, 8])
def test_small_deeplab_output_stride_and_contract(stride: int) -> None:
    model = create_model("deeplabv3_small", num_classes=5, width=4, head_channels=8,
                         output_stride=stride).eval()
    x = torch.randn(2, 3, 64, 128)
    feats = model.backbone(x)["out"]
    assert feats.shape == (2, 32, 64 // stride, 128 // stride)
    assert model(x)["out"].shape == (2, 5, 64, 128) and head_channels(model) == 32


def test_registry_has_every_segmentation_model() -> None:
    for name in SEGMENTATION_MODELS:
        assert name in __import__("chanpos.models", fromlist=["list_models"]).list_models()
    with pytest.raises(ValueError, match="output_stride must be 8 or 16"):
        create_model("deeplabv3_small", output_stride=32)
    circ = create_model("deeplabv3_small", width=4, head_channels=8, padding="circular")
    assert padding_of(circ) == "circular"


@pytest.mark.slow
@pytest.mark.parametrize("stride", [16, 8])
def test_resnet50_deeplab_strides(stride: int) -> None:
    model = create_model("deeplabv3_resnet50", num_classes=19, output_stride=stride).eval()
    assert head_channels(model) == 2048
    rates = [m[0].dilation[0] for m in model.classifier[0].convs[1:4]]
    assert rates == ([6, 12, 18] if stride == 16 else [12, 24, 36])
    with torch.no_grad():
        assert model.backbone(torch.randn(1, 3, 64, 64))["out"].shape[-1] == 64 // stride


def _authors_layout(state: dict) -> dict:
    """Write a torchvision DeepLabV3 state dict in DeepLabV3Plus-Pytorch's key layout."""
    return {("classifier." + k if k.startswith("classifier.") else k): v for k, v in state.items()}


@pytest.mark.slow
def test_authors_checkpoint_loads_into_torchvision_resnet50(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ref = create_model("deeplabv3_resnet50", num_classes=19, output_stride=16).eval()
    theirs = _authors_layout(ref.state_dict())
    assert "classifier.classifier.0.convs.0.0.weight" in theirs
    assert "classifier.classifier.4.bias" in theirs and "backbone.layer4.2.conv3.weight" in theirs
    path = tmp_path / "best_deeplabv3_resnet50_cityscapes_os16.pth"
    torch.save({"cur_itrs": 30000, "model_state": theirs, "best_score": 0.7,
                "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.01}]}}, path)
    model, spec = load_segmentation_checkpoint(path, model="deeplabv3_resnet50", output_stride=16)
    assert (spec.name, spec.kwargs) == ("deeplabv3_resnet50", {"output_stride": 16, "num_classes": 19})
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["out"], ref(x)["out"])
    # a checkpoint of another architecture is a one-line user error
    with pytest.raises(ChanposError, match="does not match deeplabv3_resnet101") as info:
        load_segmentation_checkpoint(path, model="deeplabv3_resnet101")
    assert "missing keys" in str(info.value) and "\n" not in str(info.value)


def test_key_map_handles_dataparallel_and_mismatches(tmp_path: Path) -> None:
    ref = create_model("deeplabv3_small", num_classes=6, width=4, head_channels=8).eval()
    wrapped = {"module." + k: v for k, v in _authors_layout(ref.state_dict()).items()}
    path = tmp_path / "dp.pth"
    torch.save({"model_state": wrapped}, path)
    model, _ = load_segmentation_checkpoint(path, model="deeplabv3_small", width=4,
                                            head_channels=8)
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["out"], ref(x)["out"])
    with pytest.raises(ChanposError, match="shape mismatches"):
        load_segmentation_checkpoint(path, model="deeplabv3_small", width=8, head_channels=8)
    plus = tmp_path / "plus.pth"
    plus_state = {"classifier.aspp.convs.0.0.weight": torch.zeros(1),
                  "classifier.classifier.3.weight": torch.zeros(19, 256, 1, 1)}
    torch.save({"model_state": plus_state}, plus)
    with pytest.raises(ChanposError, match="DeepLabV3\\+ checkpoint"):
        load_segmentation_checkpoint(plus)
    # chanpos checkpoints rebuild their own architecture; classifiers are refused
    own = save_model_checkpoint(ref, {"name": "deeplabv3_small", "kwargs": {
        "num_classes": 6, "width": 4, "head_channels": 8}}, tmp_path / "model.pt")
    again, spec = load_segmentation_checkpoint(own)
    assert spec.kwargs["width"] == 4
    gap = save_model_checkpoint(create_model("gapnet", num_classes=4, width=4),
                                {"name": "gapnet", "kwargs": {"num_classes": 4, "width": 4}},
                                tmp_path / "gap.pt")
    with pytest.raises(ChanposError, match="not a segmentation model"):
        load_segmentation_checkpoint(gap)


def test_untrusted_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"model_state": {}, "extra": Path("x")}, path)  # not loadable with weights_only
    with pytest.raises(ChanposError, match="weights_only"):
        load_segmentation_checkpoint(path)
