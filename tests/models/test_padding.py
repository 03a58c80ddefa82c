import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chanpos.models import PADDING_MODES, create_model, set_padding
from chanpos.models.backbones import TorchvisionResNet
from chanpos.models.padding import PartialConv2d, ResizeConv2d

SHAPE_MODES = [m for m in PADDING_MODES if m != "valid"]


@pytest.mark.parametrize("mode", SHAPE_MODES)
def test_set_padding_keeps_shapes_paper_resnet(mode: str) -> None:
    model = create_model("gapnet", num_classes=9, width=4)
    ref = model.backbone(torch.randn(2, 3, 96, 96)).shape
    set_padding(model, mode).eval()
    assert model.backbone(torch.randn(2, 3, 96, 96)).shape == ref
    assert model(torch.randn(2, 3, 96, 96)).shape == (2, 9)


@pytest.mark.parametrize("mode", SHAPE_MODES)
def test_set_padding_keeps_shapes_torchvision_resnet50(mode: str) -> None:
    net = TorchvisionResNet(arch="resnet50").eval()
    x = torch.randn(1, 3, 64, 64)
    ref = net(x).shape
    assert set_padding(net, mode)(x).shape == ref


def test_unknown_mode_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid modes: zeros, reflect"):
        set_padding(nn.Conv2d(1, 1, 3, padding=1), "mirror")


def test_modes_switch_back_and_keep_weights() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    w = conv.weight.detach().clone()
    x = torch.randn(1, 2, 5, 5)
    ref = conv(x)
    for mode in PADDING_MODES:
        set_padding(conv, mode)
    set_padding(conv, "zeros")
    assert type(conv) is nn.Conv2d and torch.equal(conv.weight, w)
    assert torch.allclose(conv(x), ref)


def test_circular_equals_manual_wraparound() -> None:
    conv = set_padding(nn.Conv2d(1, 1, 3, padding=1, bias=False), "circular")
    x = torch.randn(1, 1, 6, 6)
    manual = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), conv.weight)
    assert torch.allclose(conv(x), manual)


def test_partial_equals_hand_computed_reweighting() -> None:
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=True)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(0.5)
    set_padding(conv, "partial")
    assert isinstance(conv, PartialConv2d)
    x = torch.ones(1, 1, 3, 3)
    out = conv(x)
    # every output sees only in-image ones: raw sum = count, re-weighted by 9 / count -> 9
    assert torch.allclose(out, torch.full((1, 1, 3, 3), 9.5))
    x = torch.arange(9.0).view(1, 1, 3, 3)
    out = conv(x)
    # corner (0,0): window holds x[0:2, 0:2] = 0+1+3+4 = 8 over 4 real pixels -> 8 * 9/4 + 0.5
    assert out[0, 0, 0, 0].item() == pytest.approx(8 * 9 / 4 + 0.5)
    # edge (0,1): 0+1+2+3+4+5 = 15 over 6 pixels -> 15 * 9/6 + 0.5; centre is a plain conv
    assert out[0, 0, 0, 1].item() == pytest.approx(15 * 9 / 6 + 0.5)
    assert out[0, 0, 1, 1].item() == pytest.approx(36 + 0.5)


def test_none_padding_resizes_then_convolves_unpadded() -> None:
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    set_padding(conv, "none")
    assert isinstance(conv, ResizeConv2d) and conv.grow == (2, 2)
    x = torch.randn(1, 1, 8, 8)
    grown = F.interpolate(x, size=(10, 10), mode="bilinear", align_corners=False)
    assert torch.allclose(conv(x), F.conv2d(grown, conv.weight))


def test_valid_padding_shrinks_and_explains_when_too_small() -> None:
    model = create_model("gapnet", num_classes=4, width=4, padding="valid").eval()
    assert model(torch.randn(1, 3, 320, 320)).shape == (1, 4)
    with pytest.raises(ValueError, match="padding 'valid' shrank a feature map"):
        model(torch.randn(1, 3, 96, 96))
