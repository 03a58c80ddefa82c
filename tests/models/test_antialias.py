from pathlib import Path

import pytest
import torch
from kornia.filters import BlurPool2D
from torch import nn

from chanpos.models import (
    antialias_of,
    antialias_resnet,
    build_backbone,
    create_model,
    load_model_checkpoint,
    save_model_checkpoint,
)


def _blurs(model: nn.Module) -> int:
    return sum(isinstance(m, BlurPool2D) for m in model.modules())


def _strided_convs(model: nn.Module) -> int:
    return sum(isinstance(m, nn.Conv2d) and m.stride != (1, 1) for m in model.modules())


@pytest.mark.parametrize("backbone, size", [("paper_resnet18", 32), ("resnet18", 64),
                                            ("resnet50", 64)])
def test_antialiasing_keeps_shapes_and_replaces_strided_steps(backbone: str, size: int) -> None:
    plain = build_backbone(backbone, width=8) if backbone == "paper_resnet18" else \
        build_backbone(backbone)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        ref = plain.eval()(x).shape
        strided = _strided_convs(plain)
        aa = antialias_resnet(plain, 3).eval()
        assert aa(x).shape == ref
    # paper stem: its conv loses the stride; torchvision stem: the conv stays strided and the
    # max-pool gets the blur. Every block's strided conv and 1x1 shortcut loses its stride.
    assert _strided_convs(aa) == (0 if backbone == "paper_resnet18" else 1)
    assert _blurs(aa) == 1 + (strided - 1)  # stem + one per strided conv in blocks
    assert antialias_of(aa) == 3


def test_blurpool_classifier_is_a_registry_option_and_round_trips(tmp_path: Path) -> None:
    spec = {"name": "classifier", "kwargs": {"num_classes": 5, "width": 4, "antialias": 3}}
    model = create_model(spec["name"], **spec["kwargs"]).eval()
    assert _blurs(model) == 7 and _blurs(create_model("classifier", width=4)) == 0
    path = save_model_checkpoint(model, spec, tmp_path / "m.pt")
    loaded, got = load_model_checkpoint(path, expect="classifier")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert (got.name, got.kwargs) == (spec["name"], spec["kwargs"])
        assert torch.allclose(loaded(x), model(x))


def test_paper_stem_becomes_dense_conv_relu_then_blurred_subsampling() -> None:
    """Zhang's rewiring of the paper stem: the 7x7 conv runs densely (stride 1), then ReLU, then
    a 3-tap BlurPool subsamples by 2; the weights are the plain stem's."""
    plain = build_backbone("paper_resnet18", width=4).eval()
    w = plain.conv1.weight.detach().clone()
    aa = antialias_resnet(plain, 3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        dense = torch.relu(aa.bn1(torch.nn.functional.conv2d(x, w, stride=1, padding=3)))
        assert torch.allclose(aa.relu(aa.bn1(aa.conv1(x))), BlurPool2D(3, stride=2)(dense))
    assert torch.equal(aa.conv1.weight, w)


def test_bad_antialias_arguments() -> None:
    with pytest.raises(ValueError, match="blur size must be >= 2"):
        antialias_resnet(build_backbone("paper_resnet18", width=4), 1)
    net = antialias_resnet(build_backbone("paper_resnet18", width=4), 3)
    with pytest.raises(ValueError, match="already anti-aliased"):
        antialias_resnet(net, 3)
    with pytest.raises(ValueError, match="needs a ResNet backbone"):
        antialias_resnet(nn.Sequential(nn.Conv2d(3, 3, 3)), 3)
