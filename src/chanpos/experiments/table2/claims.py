"""Table 2's claims and their verdicts (Islam et al., ICCV 2021, Table 2): AugShift's gain in
shift consistency over the baseline, and over the baseline trained with equal compute."""

from __future__ import annotations

import statistics
from dataclasses import replace

from ...verdicts import Check, Claim, Verdict, check, converged_check, judge
from .config import Table2Config
from .rows import Table2Row

__all__ = ["CLAIMS", "CEILING", "COMPARISONS", "paired", "paired_seeds", "table2_verdicts"]

CEILING = 95.0  # consistency (%) above which a gain of the paper's size cannot show
# each claim: AugShift against this method, paired by seed
COMPARISONS = (("table2.consistency", "baseline"), ("table2.vs_equal_compute", "baseline-2x"))
CLAIMS: dict[str, Claim] = {c.claim: c for c in [
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
]}


def paired_seeds(rows: list[Table2Row], source: str, a: str, b: str) -> list[int]:
    """The seeds that ran both methods `a` and `b` on `source`, sorted."""
    have = {(r.method, r.seed) for r in rows if r.source == source}
    return sorted({s for m, s in have if m == a} & {s for m, s in have if m == b})


def paired(rows: list[Table2Row], source: str, a: str, b: str, metric: str) -> list[float]:
    """Per seed that ran both methods: `metric` of method `a` minus that of method `b`."""
    by = {(r.method, r.seed): getattr(r, metric) for r in rows if r.source == source}
    return [by[(a, s)] - by[(b, s)] for s in paired_seeds(rows, source, a, b)]


def table2_verdicts(rows: list[Table2Row], cfg: Table2Config) -> list[Verdict]:
    """`table2.consistency` (AugShift − baseline) and `table2.vs_equal_compute` (AugShift −
    baseline-2x): consistency points paired by training seed, one verdict per source (the claim
    id gets a `.<source>` suffix when several sources ran). Checks: every compared model
    plateaued, and the compared method is below the consistency ceiling."""
    sources = list(dict.fromkeys(r.source for r in rows))
    out = []
    for source in sources:
        suffix = f".{source}" if len(sources) > 1 else ""
        for claim, other in COMPARISONS:
            diffs = paired(rows, source, "augshift", other, "consistency_pct")
            if diffs:
                sel = [r for r in rows if r.source == source and r.method in ("augshift", other)]
                checks = [converged_check([(f"{r.method} seed {r.seed}", r.training)
                                           for r in sel], cfg.stopping_rule(),
                                          least=cfg.stopping().least_epochs),
                          _below_ceiling(rows, source, other)]
                seeds = paired_seeds(rows, source, "augshift", other)
                v = judge(CLAIMS[claim], diffs, "training seed", checks,
                          [f"seed {s}" for s in seeds])
                out.append(replace(v, claim=v.claim + suffix))
    return out


def _below_ceiling(rows: list[Table2Row], source: str, method: str) -> Check:
    """The compared method must leave room for AugShift to gain: its mean consistency at
    most `CEILING` (a baseline at 99 % cannot show a gain of the paper's size)."""
    values = [r.consistency_pct for r in rows if r.source == source and r.method == method]
    mean = statistics.fmean(values)
    return check("below_ceiling", mean <= CEILING,
                 f"{method} consistency {mean:.2f} % (mean of {len(values)} seeds) against the "
                 f"{CEILING:g} % ceiling" + ("" if mean <= CEILING else
                                             ": make the task harder (a larger --max-shift) so "
                                             "that consistency is not saturated"))
