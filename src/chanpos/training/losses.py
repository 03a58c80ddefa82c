"""Training losses of Islam et al. (ICCV 2021): AugShift (Section 4, Table 2).

Pure functions of tensors (no process group, no Lightning), like timm's losses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ChanposError

__all__ = ["AugShiftLoss", "AugShiftParts"]


class AugShiftParts(NamedTuple):
    """The AugShift loss and its parts (all scalar tensors): loss = ce1 + ce2 + lam * mse."""

    loss: Tensor
    ce1: Tensor
    ce2: Tensor
    mse: Tensor


class AugShiftLoss(nn.Module):
    """AugShift (Table 2 of the paper): CE(S(z1), y) + CE(S(z2), y) + lam * MSE(z1, z2).

    z1, z2 (B, C) are the pooled latents of two shifted views of the same images and
    S(z1), S(z2) (B, K) their logits. MSE is the mean over batch and channels
    (`F.mse_loss`), CE the batch mean of cross-entropy.
    """

    def __init__(self, lam: float = 10.0) -> None:
        super().__init__()
        if not lam >= 0:
            raise ChanposError(f"AugShift lambda must be >= 0, got {lam}")
        self.lam = float(lam)

    def forward(
        self, z1: Tensor, z2: Tensor, logits1: Tensor, logits2: Tensor, target: Tensor
    ) -> AugShiftParts:
        """Loss from latents (B, C) and logits (B, K) of the two views, targets (B,)."""
        ce1 = F.cross_entropy(logits1, target)
        ce2 = F.cross_entropy(logits2, target)
        mse = F.mse_loss(z1, z2)
        return AugShiftParts(ce1 + ce2 + self.lam * mse, ce1, ce2, mse)

    def from_model(
        self, encode: Callable[[Tensor], Tensor], classify: Callable[[Tensor], Tensor],
        x1: Tensor, x2: Tensor, target: Tensor,
    ) -> tuple[AugShiftParts, Tensor]:
        """Loss of views x1, x2 (B, 3, H, W) through `encode` (-> (B, C)) and `classify`.

        Both views go through the encoder as one batch of 2B images (BatchNorm sees both);
        returns (parts, logits of view 1).
        """
        b = x1.shape[0]
        z = encode(torch.cat([x1, x2]))
        logits = classify(z)
        return self(z[:b], z[b:], logits[:b], logits[b:], target), logits[:b]
