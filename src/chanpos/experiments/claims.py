"""The paper's claims as chanpos tests them (Islam et al., ICCV 2021): one glossary for every
experiment's verdicts and reproduce's combined report."""

from __future__ import annotations

from .verdicts import Claim

__all__ = ["CLAIMS"]

_CLAIMS = [
    Claim(
        claim="table1.location",
        statement="with zero padding GAPNet reads the tile's cell from the pooled vector, while "
                  "PermuteNet (channel order shuffled at every pass) collapses toward chance",
        paper="Table 1: GAPNet 100 % at every grid size, PermuteNet near chance",
        unit="accuracy points (GAPNet − PermuteNet, location task, zeros)",
        min_effect=25.0,
        min_effect_reason="a quarter of the paper's gap (100 % against chance: about 89 to 98 "
                          "points at grids 3 to 7)",
    ),
    Claim(
        claim="table1.object",
        statement="on the object task PermuteNet comes close to GAPNet: semantics do not live "
                  "in the channel order",
        paper="Table 1: PermuteNet close to GAPNet on the object task",
        unit="points (10 − (GAPNet − PermuteNet) object accuracy, zeros)",
        min_effect=2.5,
        min_effect_reason="'close' is read as within 10 points; a quarter of that margin",
    ),
    Claim(
        claim="table2.consistency",
        statement="AugShift (two shifted views, MSE between their pooled latents) makes "
                  "predictions more shift-consistent than the baseline",
        paper="Table 2 (ResNet-18): CIFAR-10 90.8 → 94.8 %, CIFAR-100 70.1 → 85.6 %",
        unit="consistency points (AugShift − baseline)",
        min_effect=1.0,
        min_effect_reason="a quarter of the paper's smallest gain (+4.0 points, CIFAR-10)",
    ),
    Claim(
        claim="table2.vs_equal_compute",
        statement="AugShift's gain is not bought by its doubled compute: it is more "
                  "shift-consistent than the baseline trained for twice the epochs",
        paper="not tested in the paper (chanpos' equal-compute control)",
        unit="consistency points (AugShift − baseline-2x)",
        min_effect=1.0,
        min_effect_reason="a quarter of the paper's smallest AugShift gain (+4.0 points)",
    ),
    Claim(
        claim="figure4",
        statement="zeroing the top-N flip-ranked channels of the head input lowers mIoU faster "
                  "than zeroing N random channels",
        paper="Figure 4 (DeepLabv3-ResNet-50, Cityscapes): ranked curve clearly below random",
        unit="mIoU points (random − ranked, mean over 0 < N ≤ C/4)",
        min_effect=1.0,
        min_effect_reason="one mIoU point, below which Figure 4's two curves could not be told "
                          "apart; the paper's curves separate by many points",
    ),
    Claim(
        claim="figure6",
        statement="zeroing the left-specific channels hurts the left half of the image more "
                  "than the right half",
        paper="Figure 6: the left-channel attack degrades the left region, not the right",
        unit="mIoU points ((left − right half drop) of left channels − that of random ones)",
        min_effect=1.0,
        min_effect_reason="one mIoU point of half-image mIoU, the smallest region effect the "
                          "paper's Figure 6 could show",
    ),
]
# `chanpos audit`: the paper's Claim 1 asked of one trained model through linear probes on its
# pooled vector (replicates: independent canvas draws with their own probe fits)
_CLAIMS += [
    Claim(
        claim="audit.pooled_position",
        statement="the globally pooled vector of the audited layer carries the tile's cell: a "
                  "linear probe reads it above chance",
        paper="Table 1: GAPNet localises the tile from its pooled output (100 %)",
        unit="accuracy points (location probe − chance)",
        min_effect=10.0,
        min_effect_reason="ten points above chance: position a linear read-out can use",
    ),
    Claim(
        claim="audit.order_carries_position",
        statement="the position in the pooled vector lives in the order of its channels: "
                  "shuffling the channels per sample removes it",
        paper="Table 1: PermuteNet (channels shuffled) collapses toward chance",
        unit="accuracy points (location probe as is − shuffled)",
        min_effect=10.0,
        min_effect_reason="ten points of location accuracy lost to shuffling",
    ),
    Claim(
        claim="audit.order_free_semantics",
        statement="the tile's class survives shuffling the channels: semantics do not live "
                  "in their order",
        paper="Table 1: PermuteNet close to GAPNet on the object task",
        unit="points (10 − (class probe as is − shuffled))",
        min_effect=2.5,
        min_effect_reason="'close' is read as within 10 points, as in Table 1; a quarter of "
                          "that margin",
    ),
]
CLAIMS: dict[str, Claim] = {c.claim: c for c in _CLAIMS}
