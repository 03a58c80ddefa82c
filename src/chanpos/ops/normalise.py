"""Per-channel standardisation of image batches, applied on whatever device the batch lives."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["Normalise", "choose_normalisation"]


class Normalise:
    """uint8 images in [0, 255] (or floats in [0, 1]) (B, C, H, W) -> (x - mean) / std.

    The statistics are kept per device, so the transform costs one subtraction and one
    division per batch wherever the batch lives (CPU, GPU, a DDP rank's device).
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self._on: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def __call__(self, images: Tensor) -> Tensor:
        """Standardised float32 images of the same shape (uint8 input is scaled by 1/255)."""
        x = images.float()
        if images.dtype == torch.uint8:
            x = x / 255.0
        if x.device not in self._on:
            shape = (1, -1) + (1,) * (x.dim() - 2)
            self._on[x.device] = (torch.tensor(self.mean, device=x.device).view(shape),
                                  torch.tensor(self.std, device=x.device).view(shape))
        mean, std = self._on[x.device]
        return (x - mean) / std

    def __getstate__(self) -> dict:
        return {"mean": self.mean, "std": self.std, "_on": {}}  # device tensors stay behind


def choose_normalisation(given: tuple[Sequence[float] | None, Sequence[float] | None],
                         model: tuple[Sequence[float] | None, Sequence[float] | None],
                         source: tuple[Sequence[float], Sequence[float]]
                         ) -> tuple[tuple[float, ...], tuple[float, ...], str]:
    """(mean, std, where they came from): the command line's, else the model's own (what it
    was trained with, from its file), else the data source's statistics."""
    for (mean, std), said in ((given, "given on the command line"),
                              (model, "the model's own, as its file or library states"),
                              (source, "the data source's statistics")):
        if mean is not None and std is not None:
            return tuple(float(m) for m in mean), tuple(float(s) for s in std), said
    raise ValueError("no normalisation")
