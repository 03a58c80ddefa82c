"""Per-image predictions of a trained classifier (evaluation of Tables 1 and 2)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn

from ..ops.devices import eval_device
from .seeding import EVAL_PHASE, reseed

__all__ = ["predict", "eval_device"]


@torch.no_grad()
def predict(
    model: nn.Module, batches: Iterable[Any], transform: Callable[[Any], tuple[Tensor, Tensor]],
    *, device: torch.device, seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """(predicted classes (N,), targets (N,)) of `model` in eval mode over every batch.

    Each batch's tensors are moved to `device`, then `transform(batch)` gives (inputs,
    targets). Evaluation is seeded (`EVAL_PHASE`): a model that draws random numbers
    (PermuteNet's permutation) predicts the same on every run. Each process evaluates the
    whole set (no DDP sharding, no padding).
    """
    reseed(seed, EVAL_PHASE)
    was_training = model.training
    model.eval()
    preds, targets = [], []
    try:
        for batch in batches:
            batch = tuple(t.to(device) if isinstance(t, Tensor) else t for t in batch)
            x, y = transform(batch)
            preds.append(model(x).argmax(dim=1).cpu())
            targets.append(y.cpu())
    finally:
        model.train(was_training)
    return torch.cat(preds), torch.cat(targets)
