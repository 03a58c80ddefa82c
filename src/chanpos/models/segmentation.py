"""Segmentation models of Figures 4-6 (Islam et al., ICCV 2021) and the authors' checkpoint format.

Every model keeps torchvision's contract: `model.backbone(x)` -> {"out": (B, C, h, w)},
`model.classifier` maps that feature map to logits, `model(x)["out"]` is (B, K, H, W)
upsampled to the input. The attacked layer is the backbone output (the head's input),
reachable as the layer name `backbone.layer4` for hooks.

- `deeplabv3_resnet50` / `deeplabv3_resnet101`: output stride 16 (layer4 dilated, ASPP
  rates 6, 12, 18: the authors' setting) or 8 (layers 3-4 dilated, rates 12, 24, 36:
  torchvision's own).
- `fcn_resnet50`: torchvision's FCN head on the same backbone.
- `deeplabv3_small`: DeepLabv3 on a narrow ResNet-18 (the paper's no-max-pool stem, total
  stride 16, `width` channels in the first stage, C = 8 * width at the output) with a
  `head_channels`-wide ASPP; the quick profile's model.

`authors_state_dict` maps the authors' DeepLabV3Plus-Pytorch keys to torchvision's; loading
any segmentation file is `chanpos.models.loading.load_segmentation_checkpoint`.
"""

from __future__ import annotations

from typing import Any

import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabHead, DeepLabV3
from torchvision.models.segmentation.fcn import FCN, FCNHead

from ..errors import ChanposError
from ..names import OUTPUT_STRIDES, SEGMENTATION_MODELS
from .backbones import PaperResNet
from .padding import set_padding
from .registry import register_model

__all__ = [
    "SEGMENTATION_MODELS",
    "OUTPUT_STRIDES",
    "deeplabv3_resnet50",
    "deeplabv3_resnet101",
    "fcn_resnet50",
    "deeplabv3_small",
    "authors_state_dict",
]

_DILATION = {16: [False, False, True], 8: [False, True, True]}
_RATES = {16: (6, 12, 18), 8: (12, 24, 36)}


def _check_stride(output_stride: int) -> None:
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be 8 or 16, got {output_stride}")


def _resnet_backbone(arch: str, output_stride: int, pretrained_backbone: bool) -> nn.Module:
    _check_stride(output_stride)
    weights = "IMAGENET1K_V1" if pretrained_backbone else None
    try:
        net = getattr(torchvision.models, arch)(
            weights=weights, replace_stride_with_dilation=_DILATION[output_stride]
        )
    except (OSError, RuntimeError) as exc:  # URLError is an OSError: no network
        if weights is None:
            raise
        reason = getattr(exc, "reason", None) or exc
        raise ChanposError(f"downloading the ImageNet weights of {arch} failed ({reason}); "
                           "check the network, or train without --pretrained-backbone") from None
    return IntermediateLayerGetter(net, return_layers={"layer4": "out"})


def _deeplab(arch: str, num_classes: int, output_stride: int, padding: str,
             pretrained_backbone: bool) -> DeepLabV3:
    backbone = _resnet_backbone(arch, output_stride, pretrained_backbone)
    model = DeepLabV3(backbone, DeepLabHead(2048, num_classes, _RATES[output_stride]))
    return set_padding(model, padding)


@register_model("deeplabv3_resnet50")
def deeplabv3_resnet50(
    *, num_classes: int = 19, output_stride: int = 16, padding: str = "zeros",
    pretrained_backbone: bool = False,
) -> DeepLabV3:
    """DeepLabv3-ResNet-50 (the paper's attack model; C = 2048 channels at the head input)."""
    return _deeplab("resnet50", num_classes, output_stride, padding, pretrained_backbone)


@register_model("deeplabv3_resnet101")
def deeplabv3_resnet101(
    *, num_classes: int = 19, output_stride: int = 16, padding: str = "zeros",
    pretrained_backbone: bool = False,
) -> DeepLabV3:
    """DeepLabv3-ResNet-101 (C = 2048)."""
    return _deeplab("resnet101", num_classes, output_stride, padding, pretrained_backbone)


@register_model("fcn_resnet50")
def fcn_resnet50(
    *, num_classes: int = 19, output_stride: int = 8, padding: str = "zeros",
    pretrained_backbone: bool = False,
) -> FCN:
    """FCN-ResNet-50 (torchvision's FCNHead; output stride 8 as torchvision builds it)."""
    backbone = _resnet_backbone("resnet50", output_stride, pretrained_backbone)
    return set_padding(FCN(backbone, FCNHead(2048, num_classes)), padding)


def _dilate_last_stage(backbone: PaperResNet) -> None:
    """Turn layer4's stride 2 into dilation 2 (torchvision's replace_stride_with_dilation)."""
    for i, block in enumerate(backbone.layer4):
        if i == 0:
            block.conv1.stride = (1, 1)
            if block.downsample is not None:
                block.downsample[0].stride = (1, 1)
            convs = [block.conv2]
        else:
            convs = [block.conv1, block.conv2]
        for conv in convs:
            conv.dilation, conv.padding = (2, 2), (2, 2)
    backbone.total_stride = 8


@register_model("deeplabv3_small")
def deeplabv3_small(
    *, num_classes: int = 8, width: int = 16, output_stride: int = 16, padding: str = "zeros",
    head_channels: int = 64, atrous_rates: tuple[int, ...] = (1, 2, 3),
) -> DeepLabV3:
    """DeepLabv3 on a narrow ResNet-18 (C = 8 * width channels at the head input).

    The backbone is the paper's ResNet-18 (7x7/2 stem, no max-pool, BasicBlock x 2 per
    stage, total stride 16; stride 8 dilates the last stage). The head is torchvision's
    DeepLabHead layout (ASPP, 3x3 conv, BN, ReLU, 1x1 conv) `head_channels` wide, with ASPP
    rates scaled to small feature maps (Cityscapes' 6, 12, 18 on a 64 x 128 map ~ 1, 2, 3
    on a 4 x 8 to 8 x 16 map).
    """
    _check_stride(output_stride)
    if width < 1 or head_channels < 1:
        raise ValueError(f"width and head_channels must be >= 1, got {width}, {head_channels}")
    net = PaperResNet(width=width)
    if output_stride == 8:
        _dilate_last_stage(net)
    # PaperResNet registers conv1, bn1, relu, layer1..4 in forward order, as the getter needs
    backbone = IntermediateLayerGetter(net, return_layers={"layer4": "out"})
    head = nn.Sequential(
        ASPP(net.out_channels, list(atrous_rates), out_channels=head_channels),
        nn.Conv2d(head_channels, head_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(head_channels),
        nn.ReLU(),
        nn.Conv2d(head_channels, num_classes, 1),
    )
    return set_padding(DeepLabV3(backbone, head), padding)


# ---- checkpoints ---------------------------------------------------------------------------

def authors_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """The authors' DeepLabV3Plus-Pytorch keys -> torchvision's.

    Their DeepLabV3 wraps the head Sequential in a module (`classifier.classifier.<i>`) and
    DataParallel may add `module.`; the backbone keys (`backbone.conv1`, `backbone.layer4`)
    and the head's inner layout (ASPP convs/project, 3x3 conv, BN, 1x1 conv) already match.
    """
    out: dict[str, Any] = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module."):]
        if key.startswith("classifier.classifier."):
            key = "classifier." + key[len("classifier.classifier."):]
        out[key] = value
    return out
