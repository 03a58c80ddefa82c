"""The audit's claims and verdicts: the paper's Claim 1 asked of one trained model through
linear probes on its pooled vector (replicates: independent canvas draws with their own probe
fits)."""

from __future__ import annotations

from typing import Any

from ...verdicts import Check, Claim, Verdict, check, converged_check, judge, t_interval
from .config import AuditConfig
from .rows import ProbeReplicate

__all__ = ["CLAIMS", "SCOPE", "REPLICATE", "audit_verdicts"]

CLAIMS: dict[str, Claim] = {c.claim: c for c in [
    Claim(
        claim="audit.pooled_position",
        statement="the globally pooled vector of the audited layer carries the tile's cell: a "
                  "linear probe reads it above chance",
        paper="Claim 1, asked of this one frozen model (in the paper: Table 1's GAPNet "
              "localises the tile from its pooled output, 100 %)",
        unit="accuracy points (location probe − chance)",
        min_effect=10.0,
        min_effect_reason="ten points above chance: position a linear read-out can use",
    ),
    Claim(
        claim="audit.order_carries_position",
        statement="the position in the pooled vector lives in the order of its channels: "
                  "shuffling the channels per sample removes it",
        paper="Claim 1, asked of this one frozen model: position is encoded in which "
              "channel carries what (in the paper: GAPNet localises, PermuteNet cannot)",
        unit="accuracy points (location probe as is − shuffled)",
        min_effect=10.0,
        min_effect_reason="ten points of location accuracy lost to shuffling",
    ),
]}

# what a verdict about one frozen model can and cannot say (the report prints it)
SCOPE = ("These verdicts are about one frozen model: whether its pooled vector carries the "
         "tile's cell, and whether that position lives in the order of its channels. They "
         "test the paper's Claim 1 on this model only: they say nothing about other models, "
         "and a contradicted verdict would mean that this model does not carry position that "
         "way, not that the paper is wrong. The paper's second half of Table 1 (semantics "
         "survive shuffling) is about networks *trained* with the shuffle, so a frozen model "
         "trained normally is not a test of it: the class under shuffling is reported as a "
         "measurement beside a positive control, a network trained with the shuffle "
         "(table1.object is the verdict on that claim).")
REPLICATE = "probe replicate"  # its own canvases (tiles, cells) and probe fits


def _probes_fitted(reps: list[ProbeReplicate]) -> Check:
    stuck = [r.replicate for r in reps if not r.probes_fitted]
    return check("probes_fitted", not stuck,
                 "every linear probe's L-BFGS fit reached its tolerance (gradient or step)"
                 if not stuck else
                 f"the probes of replicates {stuck} hit their iteration limit: more canvases "
                 "(--probe-samples) make the fit better posed")


def _converged(training: Any, cfg: AuditConfig) -> list[Check]:
    """The audited model trained here must have plateaued (none for a given model)."""
    if training is None:
        return []
    return [converged_check([("the audited model", training.training)],
                            "the plateau rule of the audit's training settings",
                            least=cfg.stopping().least_epochs)]


def _negative_control(reps: list[ProbeReplicate], chance: float, aligned: bool | None
                      ) -> list[Check]:
    """With circular padding and cells that move the feature map by whole positions, the
    network is exactly shift-equivariant: its pooled vector cannot tell the cells apart, so a
    probe that reads them there reads something other than the network's position."""
    if not aligned:
        return []
    values = [r.circular_location for r in reps]
    mean, lo, hi = t_interval(values)
    ok = lo is not None and lo <= chance <= hi
    return [check("negative_control", ok,
                  f"the circular-padding twin's location probe: {mean:.1f} % [{lo:.1f}, "
                  f"{hi:.1f}] against chance {chance:.1f} % (exact shift-equivariance)"
                  + ("" if ok else ": the probe reads position where none can exist; more "
                     "test canvases (--probe-test-samples) narrow the interval"))]


def _above_chance(values: list[float], floor: float, what: str) -> Check:
    mean, lo, _ = t_interval(values)
    ok = lo is not None and lo > floor
    return check("above_chance", ok, f"{what}: {mean:.1f} % (95 % lower bound {lo:.1f} %) "
                 f"against {floor:.1f} %" + ("" if ok else ": nothing above chance to take away"))


def audit_verdicts(reps: list[ProbeReplicate], cfg: AuditConfig, aligned: bool | None,
                   training: Any = None) -> list[Verdict]:
    """The two audit claims over the probe replicates (each its own canvases and fit);
    with `training` (the model was trained here) its plateau is checked too."""
    chance = 100.0 / cfg.cells()
    fitted = [_probes_fitted(reps), *_converged(training, cfg)]
    ids = [f"replicate {r.replicate}" for r in reps]
    location = [r.location for r in reps]
    pooled = judge(CLAIMS["audit.pooled_position"], [v - chance for v in location], REPLICATE,
                   [*fitted, *_negative_control(reps, chance, aligned)], ids)
    order = judge(CLAIMS["audit.order_carries_position"],
                  [r.location - r.location_shuffled for r in reps], REPLICATE,
                  [*fitted, _above_chance(location, chance, "the location probe as is")], ids)
    return [pooled, order]
