"""Seeds derived from (run seed, phase): every random phase of a run restarts from its own seed.

A training run reseeds torch, numpy and Python's `random` at the start of every epoch, before
batch-norm re-estimation and before evaluation, from `phase_seed(seed, phase)`. So the random
numbers of epoch e do not depend on what ran before it, and a run resumed from the checkpoint
of epoch e - 1 draws exactly what an uninterrupted run draws (data order, flips, shifts, grid
cells, PermuteNet's permutations).
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["phase_seed", "reseed", "BN_PHASE", "EVAL_PHASE", "INIT_PHASE"]

BN_PHASE = -1    # batch-norm re-estimation after training
EVAL_PHASE = -2  # evaluation of the trained model
INIT_PHASE = -4  # the initial weights (before training starts)


def phase_seed(seed: int, phase: int) -> int:
    """A 31-bit seed for `phase` (an epoch number, BN_PHASE or EVAL_PHASE) of run `seed`."""
    return (int(seed) * 1_000_003 + 7_919 * (int(phase) + 3)) % (2**31 - 1)


def reseed(seed: int, phase: int) -> None:
    """Seed torch (every device), numpy and `random` for `phase` of run `seed`."""
    s = phase_seed(seed, phase)
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
