"""Seeded, class-balanced subsets of labelled image sets.

`--train-samples` / `--test-samples` style budgets must not keep "the first N images":
real datasets are stored in class order (folders) or in an arbitrary order, so the first N
may cover a few classes only, and every accuracy of Islam et al., ICCV 2021 (Tables 1-2)
assumes all classes are present. `balanced_subset` keeps every class as equal as possible.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ChanposError

__all__ = ["balanced_subset", "class_quotas", "holdout_index"]


def class_quotas(counts: Tensor, n: int, seed: int) -> Tensor:
    """Per-class sample counts summing to min(n, counts.sum()), as equal as possible.

    Water-filling: every class gets the same share, a class with fewer items gives all it
    has and its unused share goes to the others; the classes that get one extra item (when
    the share does not divide evenly) are drawn with `seed`.
    """
    counts = counts.to(torch.long)
    quota = torch.zeros_like(counts)
    remaining = min(int(n), int(counts.sum()))
    g = torch.Generator().manual_seed(seed)
    while remaining > 0:
        open_ = (quota < counts).nonzero().flatten()
        share = remaining // len(open_)
        if share == 0:  # fewer items left than open classes: one more each to a seeded few
            pick = open_[torch.randperm(len(open_), generator=g)[:remaining]]
            quota[pick] += 1
            break
        add = torch.minimum(counts[open_] - quota[open_], torch.full_like(open_, share))
        quota[open_] += add
        remaining -= int(add.sum())
    return quota


def balanced_subset(labels: Tensor, n: int, seed: int) -> Tensor:
    """Indices (ascending) of a seeded class-balanced subset of `n` items of `labels` (N,).

    With K classes present every class gets floor(n/K) or ceil(n/K) items; a class with
    fewer gives all of them and the rest is filled from the other classes. Which items (and
    which classes get the extra one) depends on `seed` only, so a subset is repeatable.
    `n >= len(labels)` returns every index.
    """
    if n < 1:
        raise ChanposError(f"sample count must be >= 1, got {n}")
    labels = torch.as_tensor(labels).flatten().to(torch.long)
    if n >= len(labels):
        return torch.arange(len(labels))
    classes, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    quota = class_quotas(counts, n, seed)
    g = torch.Generator().manual_seed(seed + 1)
    picked = []
    for k in range(len(classes)):
        members = (inverse == k).nonzero().flatten()
        picked.append(members[torch.randperm(len(members), generator=g)[: int(quota[k])]])
    return torch.cat(picked).sort().values


def holdout_index(labels: Tensor, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """(the other indices in stored order, a seeded class-balanced `n` held out): a
    validation split carved from a training split."""
    held = balanced_subset(labels, n, seed) if n < len(labels) else torch.arange(len(labels))
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[held] = False
    return keep.nonzero().flatten(), held
