"""Backbones: the paper's ResNet-18 (7x7/2 stem, no max-pool, total stride 16) and torchvision ResNets.

Every backbone maps (B, 3, H, W) to a feature map (B, C, H/s, W/s) and exposes
`out_channels` (C) and `total_stride` (s), so heads and probes need nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

import torchvision
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from ..names import BACKBONES, TORCHVISION_RESNETS

__all__ = ["PaperResNet", "TorchvisionResNet", "build_backbone", "BACKBONES"]


class PaperResNet(nn.Module):
    """The authors' CIFAR-grid ResNet (Islam et al., ICCV 2021, Table 1): no max-pool, total stride 16.

    conv1 7x7/2 pad 3 -> BN -> ReLU -> layer1..4 (BasicBlock x `layers`, strides 1,2,2,2).
    `width` scales every stage (64 = the paper: 64, 128, 256, 512 channels).
    """

    total_stride = 16

    def __init__(self, *, width: int = 64, layers: tuple[int, ...] = (2, 2, 2, 2)) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0], 1)
        self.layer2 = self._make_layer(2 * width, layers[1], 2)
        self.layer3 = self._make_layer(4 * width, layers[2], 2)
        self.layer4 = self._make_layer(8 * width, layers[3], 2)
        self.out_channels = 8 * width
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self._inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self._inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        mods = [BasicBlock(self._inplanes, planes, stride, downsample)]
        self._inplanes = planes
        mods += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, 8*width, H/16, W/16)."""
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class TorchvisionResNet(nn.Module):
    """Any torchvision ResNet without its avgpool/fc (total stride 32, randomly initialised)."""

    total_stride = 32

    def __init__(self, *, arch: str = "resnet50") -> None:
        super().__init__()
        builder: Callable[..., nn.Module] = getattr(torchvision.models, arch)
        net = builder(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            net.layer1,
            net.layer2,
            net.layer3,
            net.layer4,
        )
        self.out_channels = net.fc.in_features

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, C, H/32, W/32)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))




def build_backbone(name: str, *, width: int = 64) -> nn.Module:
    """A backbone by name: `paper_resnet18` (the paper's stem) or a torchvision ResNet."""
    if name == "paper_resnet18":
        return PaperResNet(width=width)
    if name in TORCHVISION_RESNETS:
        if width != 64:
            raise ValueError(f"width applies to paper_resnet18 only; {name} has torchvision's widths")
        return TorchvisionResNet(arch=name)
    raise ValueError(f"unknown backbone {name!r}; choose one of: {', '.join(BACKBONES)}")


