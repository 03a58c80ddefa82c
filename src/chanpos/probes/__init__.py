"""Probes that work on any nn.Module: shift invariance (Claim 2), channel ranking and ablation,
segmentation metrics (Claim 3)."""

__all__: list[str] = []
