"""When channels_last is safe on a model, and how to make it safe on chanpos' own models."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["channels_last_ok", "channels_last_safe", "to_channels_last",
           "SubsampledPointwiseConv2d"]


def _crashes_channels_last(m: nn.Module) -> bool:
    """A strided 1x1 conv with fewer than 16 input channels (and not already replaced)."""
    return (isinstance(m, nn.Conv2d) and not isinstance(m, SubsampledPointwiseConv2d)
            and m.kernel_size == (1, 1) and max(m.stride) > 1 and m.in_channels < 16)


def channels_last_ok(model: nn.Module) -> bool:
    """False when `model` has a strided 1x1 conv with fewer than 16 input channels.

    On torch 2.14's CPU kernels the backward of such a conv in channels_last memory format
    corrupts the heap (seen with the 1x1/2 ResNet shortcut at widths 4 and 8: a crash, or a
    hang under inductor, on an AVX2 CPU); `channels_last_safe` makes chanpos' own models safe.
    """
    return not any(_crashes_channels_last(m) for m in model.modules())


class SubsampledPointwiseConv2d(nn.Conv2d):
    """A 1x1 conv with stride s computed as a stride-1 1x1 conv of every s-th pixel: the same
    function and parameters, through kernels that run in channels_last without crashing."""

    def forward(self, x: Tensor) -> Tensor:
        sh, sw = self.stride
        return F.conv2d(x[:, :, ::sh, ::sw], self.weight, self.bias, 1, 0, 1, self.groups)


def channels_last_safe(model: nn.Module) -> nn.Module:
    """`model` (changed in place) with every conv that `channels_last_ok` refuses computed
    as a `SubsampledPointwiseConv2d` (same outputs, same state dict), so it can train in
    channels_last. Only plain unpadded `nn.Conv2d`s are replaced (a padded 1x1 conv is not a
    plain subsampling; partial or resizing convs keep their own forward)."""
    for m in model.modules():
        if type(m) is nn.Conv2d and _crashes_channels_last(m) and m.padding == (0, 0):
            m.__class__ = SubsampledPointwiseConv2d
    return model


def to_channels_last(model: nn.Module, wanted: bool = True) -> bool:
    """Put `model` (in place) in channels_last memory format when `wanted`, first making it
    safe (`channels_last_safe`); True when the model is now channels_last, False when it
    was not wanted or is still unsafe (a partial or resizing strided 1x1 conv)."""
    if not wanted or not channels_last_ok(channels_last_safe(model)):
        return False
    model.to(memory_format=torch.channels_last)
    return True
