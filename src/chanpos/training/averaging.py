"""An exponential moving average of a network's weights (Polyak averaging), the network that
is validated and kept when it is switched on.

A model trained at a constant, high learning rate wanders: its validation accuracy can swing
by 10-15 points from one epoch to the next (Table 1's PermuteNet at lr 0.01), so whichever
epoch training stops at decides the number, and a plateau rule watching it fires on noise.
The average of the recent weights keeps the learning rate (it does not freeze a model that is
still learning, as an early learning-rate drop does) and removes most of the wander.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage(nn.Module):
    """`decay`-weighted moving average of `model`'s parameters and floating-point buffers
    (BatchNorm running statistics); integer buffers are copied. Its state is a state_dict, so
    a checkpoint that holds it resumes exactly."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the averaging decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model)
        self.module.requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards `model`'s current weights (call after every step)."""
        mine = list(self.module.parameters()) + list(self.module.buffers())
        theirs = list(model.parameters()) + list(model.buffers())
        first = int(self.updates) == 0
        floats_a, floats_b = [], []
        for a, b in zip(mine, theirs, strict=True):
            if first or not a.is_floating_point():
                a.copy_(b)
            else:
                floats_a.append(a)
                floats_b.append(b.detach())
        if floats_a:
            torch._foreach_lerp_(floats_a, floats_b, 1.0 - self.decay)
        self.updates += 1

    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged weights and buffers into `model` (same architecture)."""
        model.load_state_dict(self.module.state_dict())
