"""Training data order that depends only on (run seed, epoch).

`EpochShuffle` draws each epoch's permutation from its own generator seeded with
`phase_seed(seed, epoch)`; Lightning calls `set_epoch` before every epoch. `train_loader` also
gives the DataLoader its own generator, so starting an epoch never draws from the global RNG:
an interrupted run resumed at epoch e sees the batches, in the order, an uninterrupted run sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .seeding import phase_seed

__all__ = ["EpochShuffle", "train_loader"]


class EpochShuffle(Sampler[int]):
    """A random order of range(n), each index `repeats` times, per epoch, fixed by
    (seed, epoch). `repeats` = 2 shows every image twice per epoch (Table 2's equal-compute
    baseline: as many image forwards per epoch as AugShift's two views)."""

    def __init__(self, n: int, seed: int, repeats: int = 1) -> None:
        self.n, self.seed, self.epoch, self.repeats = int(n), int(seed), 0, int(repeats)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before each epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n * self.repeats

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(phase_seed(self.seed, self.epoch))
        order = torch.randperm(self.n * self.repeats, generator=g) % self.n
        return iter(order.tolist())


def train_loader(dataset: Dataset, *, batch_size: int, seed: int, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], Any] | None = None,
                 drop_last: bool = False, repeats: int = 1) -> DataLoader:
    """A shuffled training DataLoader whose order depends only on (seed, epoch).

    A last batch of a single image is dropped (BatchNorm cannot train on one image)."""
    n = len(dataset) * repeats
    drop_last = drop_last or (n > 1 and n % batch_size == 1)
    return DataLoader(dataset, batch_size=batch_size,
                      sampler=EpochShuffle(len(dataset), seed, repeats),  # type: ignore[arg-type]
                      generator=torch.Generator().manual_seed(phase_seed(seed, -3)),
                      num_workers=num_workers, collate_fn=collate_fn, drop_last=drop_last,
                      pin_memory=torch.cuda.is_available())
