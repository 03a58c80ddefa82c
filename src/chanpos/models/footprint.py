"""How much memory a model's activations take, measured on a small input and scaled: what
the commands check before a run starts, so that a run that cannot fit is refused at once."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["activation_bytes"]


@torch.no_grad()
def activation_bytes(model: nn.Module, height: int, width: int, batch: int, *,
                     train: bool = True, probe: int = 64) -> float:
    """Estimated bytes of the activations of a batch of `batch` images of height x width:
    the outputs of every leaf module in one forward pass of a probe x probe image, scaled by
    the pixels and the batch; in training x 3 (kept for the backward pass, and their
    gradients). An estimate for refusing runs that cannot fit, not an exact figure."""
    total = 0

    def hook(_m: nn.Module, _inp: object, out: object) -> None:
        nonlocal total
        if isinstance(out, torch.Tensor):
            total += out.numel() * out.element_size()

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        model(torch.zeros(1, 3, probe, probe, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    per_image = total * (height * width) / (probe * probe)
    return per_image * batch * (3.0 if train else 1.0)
