"""The authors' approach, re-implemented from reading islamamirul/PermuteNet (not copied).

Used only as the baseline of benchmarks/run.py: per-sample PIL transforms in a DataLoader,
then a per-sample Python loop pasting each tile into its grid cell (trainval_gapnet.py's
scheme: random.randint per sample, numpy mod/floor for the cell), NCHW float32 model, and for
ranking one image at a time with two separate forwards (main_rank_neurons.py's scheme).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import transforms


class PILTileDataset(Dataset):
    """CIFAR-style dataset: PIL images through per-sample torchvision transforms."""

    def __init__(self, images_uint8: Tensor, labels: Tensor, mean, std) -> None:
        self.images = [Image.fromarray(im.permute(1, 2, 0).numpy()) for im in images_uint8]
        self.labels = labels.tolist()
        self.transform = transforms.Compose([
            transforms.RandomCrop(32, padding=0),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def place_per_sample(tiles: Tensor, grid_size: int) -> tuple[Tensor, Tensor]:
    """Paste each tile into a random cell, one sample at a time (the authors' loop)."""
    b, c, s, _ = tiles.shape
    inputs = torch.zeros((b, c, s * grid_size, s * grid_size), dtype=torch.float)
    target = torch.zeros((b,), dtype=torch.long)
    for i in range(b):
        location = random.randint(1, grid_size * grid_size)
        col = int(np.mod(location - 1, grid_size))
        row = int(np.floor((location - 1) / grid_size))
        inputs[i, :, row * s:(row + 1) * s, col * s:(col + 1) * s] = tiles[i]
        target[i] = location - 1
    return inputs, target


@torch.no_grad()
def rank_one_by_one(backbone: torch.nn.Module, images: Tensor) -> Tensor:
    """Mean |GAP(f(x)) - GAP(f(flip x))| with batch-1 forwards, two per image.

    The flip goes through numpy as in main_rank_neurons.py (np.fliplr on the permuted array).
    """
    diffs = []
    for i in range(images.shape[0]):
        x = images[i : i + 1]
        a = backbone(x).mean(dim=(2, 3))
        flipped = np.fliplr(x.permute(0, 3, 2, 1).numpy()).copy()
        b = backbone(torch.from_numpy(flipped).permute(0, 3, 2, 1)).mean(dim=(2, 3))
        diffs.append((a - b).abs().squeeze(0))
    return torch.stack(diffs).mean(0)
