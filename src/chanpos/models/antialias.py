"""Anti-aliased downsampling for ResNets (BlurPool; Zhang, "Making Convolutional Networks
Shift-Invariant Again", ICML 2019): Table 2's peer method of AugShift (Table 2 of the paper).

`antialias_resnet(backbone, blur_size)` rewrites, in place, every stride-2 step of a
chanpos ResNet backbone (`PaperResNet` or `TorchvisionResNet`, torchvision Basic/Bottleneck
blocks) into "evaluate densely, blur, then subsample" as in Zhang's paper:

- strided conv -> ReLU  becomes  conv (stride 1) -> ReLU -> BlurPool (stride 2),
  i.e. in a block the stride moves out of the strided conv and a BlurPool goes in front of
  the next conv; in the paper stem (no max-pool) the stem conv loses its stride and the
  stem's ReLU is followed by a BlurPool;
- max-pool (torchvision stem) becomes  MaxPool(2, stride 1) -> BlurPool (stride 2), the stem
  conv stays strided (Zhang's default for ResNets);
- a strided 1x1 shortcut conv becomes  BlurPool (stride 2) -> 1x1 conv (stride 1).

The blur is kornia's `BlurPool2D` (normalised binomial kernel of `blur_size` taps, zero
border, output ceil(H/2)): kornia is already a dependency and maintained, and it works on
any module, while the `antialiased-cnns` package ships only the torchvision-stem ResNets
and has had no release since 2021. Weights are kept; only strides and inserted blurs change.
"""

from __future__ import annotations

from kornia.filters import BlurPool2D
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

__all__ = ["antialias_resnet", "antialias_of"]


def antialias_of(model: nn.Module) -> int:
    """The blur size `antialias_resnet` applied to `model` (0 if never applied)."""
    return getattr(model, "_chanpos_antialias", 0)


def _unstride(conv: nn.Conv2d) -> None:
    conv.stride = (1, 1)


def antialias_resnet(backbone: nn.Module, blur_size: int = 3) -> nn.Module:
    """Make every stride-2 downsampling of a ResNet `backbone` anti-aliased (in place); returns it.

    Output shapes stay those of the plain network, (B, C, ceil(H/s), ceil(W/s)).
    `blur_size` >= 2 is the number of binomial taps (3 = Zhang's "Tri-3" filter).
    """
    if blur_size < 2:
        raise ValueError(f"blur size must be >= 2 taps, got {blur_size}")
    if antialias_of(backbone):
        raise ValueError("this backbone is already anti-aliased")
    conv1 = getattr(backbone, "conv1", None)
    if not isinstance(conv1, nn.Conv2d) or not hasattr(backbone, "layer1"):
        raise ValueError(
            "antialias_resnet needs a ResNet backbone (conv1, layer1..4), got "
            f"{type(backbone).__name__}"
        )
    maxpool = getattr(backbone, "maxpool", None)
    if isinstance(maxpool, nn.MaxPool2d):
        backbone.maxpool = nn.Sequential(
            nn.MaxPool2d(kernel_size=2, stride=1), BlurPool2D(blur_size, stride=2)
        )
    elif tuple(conv1.stride) == (2, 2):
        _unstride(conv1)
        backbone.relu = nn.Sequential(nn.ReLU(inplace=True), BlurPool2D(blur_size, stride=2))
    for block in list(backbone.modules()):
        if isinstance(block, BasicBlock) and tuple(block.conv1.stride) == (2, 2):
            _unstride(block.conv1)
            block.conv2 = nn.Sequential(BlurPool2D(blur_size, stride=2), block.conv2)
        elif isinstance(block, Bottleneck) and tuple(block.conv2.stride) == (2, 2):
            _unstride(block.conv2)
            block.conv3 = nn.Sequential(BlurPool2D(blur_size, stride=2), block.conv3)
        else:
            continue
        down = block.downsample
        if isinstance(down, nn.Sequential) and isinstance(down[0], nn.Conv2d) \
                and tuple(down[0].stride) == (2, 2):
            _unstride(down[0])
            block.downsample = nn.Sequential(BlurPool2D(blur_size, stride=2), *down)
    backbone._chanpos_antialias = blur_size
    return backbone
