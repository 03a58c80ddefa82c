"""Re-estimate BatchNorm running statistics after training ("precise BN").

With few optimiser steps the running averages lag the weights, and evaluation can predict a
single class although the training loss is ~0 (seen when calibrating the quick Table 1). Averaging the batch
statistics of a few no-grad training batches under the final weights fixes that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["recalibrate_batchnorm", "training_inputs"]


def training_inputs(loader: Iterable[Any], prepare: Callable[[Any, bool], Any],
                    device: Any) -> Iterator[Tensor]:
    """The model inputs of `loader`'s batches as training sees them (moved to `device`,
    then `prepare(batch, True)`), for re-estimating BatchNorm statistics."""
    for batch in loader:
        batch = tuple(t.to(device) if hasattr(t, "to") else t for t in batch)
        yield prepare(batch, True)[0]


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module,
    batches: Iterable[Tensor],
    num_batches: int,
    forward: Callable[[Tensor], object] | None = None,
) -> int:
    """Reset BN running stats and re-estimate them as a cumulative mean over `num_batches`.

    Returns the number of batches used. Under torch.distributed the estimates are averaged
    over ranks so every replica evaluates with the same statistics.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or num_batches <= 0:
        return 0
    modes = {m: m.training for m in model.modules()}
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    run = forward or model
    used = 0
    for x in batches:
        run(x)
        used += 1
        if used >= num_batches:
            break
    for m, mom in zip(norms, momenta, strict=False):
        m.momentum = mom
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        world = dist.get_world_size()
        for m in norms:
            for buf in (m.running_mean, m.running_var):
                dist.all_reduce(buf)
                buf /= world
    for m, mode in modes.items():  # every submodule gets its own mode back
        m.training = mode
    return used
