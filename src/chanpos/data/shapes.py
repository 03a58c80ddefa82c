"""`shapes`: the built-in offline image source (10 procedural classes, deterministic by seed).

Each image is a shape of one of 10 classes drawn with a random colour, size and position
jitter on a textured random-colour background, plus pixel noise. Generation is vectorised
over the batch, so thousands of 32 px images take well under a second.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["SHAPE_CLASSES", "make_shapes"]

SHAPE_CLASSES: tuple[str, ...] = (
    "disk",
    "square",
    "triangle",
    "ring",
    "plus",
    "diamond",
    "cross",
    "frame",
    "stripes",
    "half-disk",
)


def _masks(u: Tensor, v: Tensor) -> Tensor:
    """All class masks at normalised coordinates u, v in the shape's box: (10, N, H, W) bool."""
    r = torch.sqrt(u * u + v * v)
    box = torch.maximum(u.abs(), v.abs())
    inside = box <= 0.9
    stripe = torch.remainder(torch.floor((v + 0.9) / 0.36), 2) == 0
    return torch.stack(
        [
            r <= 1.0,
            box <= 0.8,
            (v <= 0.8) & (u.abs() <= (v + 0.9) * 0.5) & (v >= -0.9),
            (r >= 0.55) & (r <= 1.0),
            ((u.abs() <= 0.25) | (v.abs() <= 0.25)) & inside,
            (u.abs() + v.abs()) <= 1.0,
            (((u - v).abs() <= 0.3) | ((u + v).abs() <= 0.3)) & (box <= 0.85),
            (box >= 0.5) & (box <= 0.85),
            stripe & inside,
            (r <= 1.0) & (v >= 0.0),
        ]
    )


def make_shapes(
    num_samples: int,
    *,
    size: int = 32,
    seed: int = 0,
    noise: float = 0.08,
    min_radius: float = 0.22,
    max_radius: float = 0.42,
    jitter: float = 0.12,
) -> tuple[Tensor, Tensor]:
    """`num_samples` images (N, 3, size, size) uint8 and labels (N,) int64, fixed by `seed`.

    `min_radius`/`max_radius` are the shape's half-size and `jitter` the maximum centre
    offset, as fractions of `size`; `noise` is the std of per-pixel noise in [0, 1] units.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    g = torch.Generator().manual_seed(seed)
    n = num_samples
    labels = torch.randint(0, len(SHAPE_CLASSES), (n,), generator=g)

    def rand(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=g)

    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    yy, xx = coords.view(1, size, 1), coords.view(1, 1, size)
    radius = (min_radius + (max_radius - min_radius) * rand(n)).view(n, 1, 1)
    cx = (0.5 + jitter * (2 * rand(n) - 1)).view(n, 1, 1)
    cy = (0.5 + jitter * (2 * rand(n) - 1)).view(n, 1, 1)
    mask = _masks((xx - cx) / radius, (yy - cy) / radius)
    mask = mask[labels, torch.arange(n)].unsqueeze(1)  # (N, 1, H, W)

    # textured background: an oriented sinusoid with random frequency, phase and contrast
    theta = (math.pi * rand(n)).view(n, 1, 1)
    freq = (4 + 10 * rand(n)).view(n, 1, 1)
    phase = (2 * math.pi * rand(n)).view(n, 1, 1)
    wave = torch.sin(2 * math.pi * freq * (xx * torch.cos(theta) + yy * torch.sin(theta)) + phase)
    texture = (0.15 * rand(n).view(n, 1, 1) + 0.05) * wave
    background = rand(n, 3, 1, 1) * 0.8 + 0.1 + texture.unsqueeze(1)

    # foreground colour far enough from the background's mean colour
    fg = rand(n, 3, 1, 1)
    bg_mean = background.mean(dim=(2, 3), keepdim=True)
    close = (fg - bg_mean).abs().amax(dim=1, keepdim=True) < 0.35
    fg = torch.where(close, torch.remainder(bg_mean + 0.5, 1.0), fg)

    img = torch.where(mask, fg.expand(-1, -1, size, size), background)
    img = img + noise * torch.randn(n, 3, size, size, generator=g)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8), labels
