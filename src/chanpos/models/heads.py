"""Heads of Table 1 (GAPNet, PermuteNet) and the plain GAP classifier of Table 2 (Islam et al., ICCV 2021)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["GAPNet", "PermuteNet", "GAPClassifier"]


class GAPNet(nn.Module):
    """Backbone -> 3x3 conv (C -> num_classes, padding 1) -> global average pool = logits.

    No fully connected layer: the pooled vector *is* the logits, so every logit's value is
    fixed to one output channel (Table 1 of the paper).
    """

    def __init__(self, backbone: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.pre_classifier = nn.Conv2d(backbone.out_channels, num_classes, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> logits (B, num_classes)."""
        return self.pool(self.pre_classifier(self.backbone(x))).flatten(1)


class GAPClassifier(nn.Module):
    """Backbone -> GAP (the latent z, (B, C)) -> Linear: the classifier AugShift trains."""

    def __init__(self, backbone: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(backbone.out_channels, num_classes)
        self.num_classes = num_classes

    def encode(self, x: Tensor) -> Tensor:
        """The pooled latent z = GAP(f(x)), (B, C)."""
        return self.pool(self.backbone(x)).flatten(1)

    def classify(self, z: Tensor) -> Tensor:
        """Logits from a latent, (B, C) -> (B, num_classes)."""
        return self.fc(z)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> logits (B, num_classes)."""
        return self.classify(self.encode(x))


class PermuteNet(GAPClassifier):
    """Backbone -> GAP -> random channel permutation (new every forward) -> Linear.

    In training the permutation is drawn per forward pass and shared by the batch (as in the
    authors' code), so the linear layer cannot rely on channel order. In evaluation every
    sample gets its own permutation: the expected accuracy is the same (each sample's
    prediction sees one uniform random order either way), but a test set of n samples is
    scored over n permutations instead of one per batch, so an accuracy, and the plateau
    rule watching it, is not dominated by the few orders a handful of batches happened to
    draw.
    """

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> logits (B, num_classes) through a fresh channel permutation."""
        z = self.encode(x)
        if self.training:
            return self.classify(z[:, torch.randperm(z.shape[1], device=z.device)])
        order = torch.rand(z.shape, device=z.device).argsort(dim=1)
        return self.classify(z.gather(1, order))
