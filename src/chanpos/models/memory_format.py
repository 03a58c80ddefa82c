"""When channels_last is safe and worth it on a model."""

from __future__ import annotations

from torch import nn

__all__ = ["channels_last_ok"]


def channels_last_ok(model: nn.Module) -> bool:
    """False when `model` has a strided 1x1 conv with fewer than 16 input channels.

    On torch 2.14's CPU kernels the backward of such a conv in channels_last memory format
    crashes the process (seen with the 1x1/2 ResNet shortcut at widths 4 and 8); narrow
    networks gain nothing from channels_last anyway, so they stay contiguous.
    """
    for m in model.modules():
        if (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and max(m.stride) > 1
                and m.in_channels < 16):
            return False
    return True
