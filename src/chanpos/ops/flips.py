"""Random horizontal flips of batches: the one augmentation every pipeline shares (grid
canvases, classifier and segmentation training, the street scenes)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["draw_flips", "flip_where"]


def draw_flips(n: int, p: float = 0.5, *, device: torch.device | str | None = None,
               generator: torch.Generator | None = None) -> Tensor:
    """Which of `n` samples to flip: one uniform draw each, True below `p`."""
    return torch.rand(n, device=device, generator=generator) < p


def flip_where(x: Tensor, flips: Tensor) -> Tensor:
    """`x` (batch first, width last) with the samples where `flips` is True mirrored
    left-right; images and their label maps take the same `flips`."""
    return torch.where(flips.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)
