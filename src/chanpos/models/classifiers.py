"""Registered classification builders: gapnet, permutenet, classifier (Islam et al., ICCV
2021, Tables 1 and 2)."""

from __future__ import annotations

from .antialias import antialias_resnet
from .backbones import build_backbone
from .heads import GAPClassifier, GAPNet, PermuteNet
from .padding import set_padding
from .registry import register_model

__all__ = ["gapnet", "permutenet", "classifier"]


@register_model("gapnet")
def gapnet(
    *, backbone: str = "paper_resnet18", num_classes: int = 9, padding: str = "zeros", width: int = 64
) -> GAPNet:
    """GAPNet (Table 1): backbone, 3x3 conv to `num_classes`, GAP; all convs use `padding`."""
    return set_padding(GAPNet(build_backbone(backbone, width=width), num_classes), padding)


@register_model("permutenet")
def permutenet(
    *, backbone: str = "paper_resnet18", num_classes: int = 9, padding: str = "zeros", width: int = 64
) -> PermuteNet:
    """PermuteNet (Table 1): backbone, GAP, a fresh channel permutation, Linear."""
    return set_padding(PermuteNet(build_backbone(backbone, width=width), num_classes), padding)


@register_model("classifier")
def classifier(
    *, backbone: str = "paper_resnet18", num_classes: int = 10, padding: str = "zeros",
    width: int = 64, antialias: int = 0,
) -> GAPClassifier:
    """Plain GAP + Linear classifier (Table 2's ResNet-18), with `encode`/`classify` parts.

    `antialias` > 0 makes every downsampling a BlurPool with that many binomial taps
    (Zhang 2019, `antialias_resnet`); 0 keeps plain strided downsampling.
    """
    net = build_backbone(backbone, width=width)
    if antialias:
        net = antialias_resnet(net, antialias)
    return set_padding(GAPClassifier(net, num_classes), padding)
