"""Where evaluation and probing run."""

from __future__ import annotations

import torch

__all__ = ["eval_device"]


def eval_device(accelerator: str) -> torch.device:
    """Where evaluation runs: the GPU when training may use one (auto, gpu, cuda), else the CPU."""
    if torch.cuda.is_available() and accelerator in ("auto", "gpu", "cuda"):
        return torch.device("cuda")
    return torch.device("cpu")
