"""Intervals over independent replicates: Student's t for one group, Welch's for two, and how
many replicates would decide a claim. Torch-free (scipy for the t quantiles)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["t_interval", "welch_interval", "replicates_to_decide", "mean_var", "mean_sd"]


def mean_var(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample variance; 0 for one value) of `values` (exact sums: `math.fsum`)."""
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("mean_var needs at least one value")
    mean = math.fsum(xs) / len(xs)
    if len(xs) < 2:
        return mean, 0.0
    return mean, math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation; 0 for one value) of `values`."""
    mean, var = mean_var(values)
    return mean, math.sqrt(var)


def t_interval(values: Sequence[float], confidence: float = 0.95
               ) -> tuple[float, float | None, float | None]:
    """(mean, lo, hi) of Student's t interval for the mean of `values`; no interval if n < 2."""
    from scipy import stats

    if len(values) == 0:
        raise ValueError("t_interval needs at least one value")
    mean, sd = mean_sd(values)
    n = len(values)
    if n < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def welch_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95
                   ) -> tuple[float, float | None, float | None]:
    """(mean(a) − mean(b), lo, hi): Welch's t interval for a difference of two independent
    groups' means (Welch–Satterthwaite degrees of freedom); no interval if a group has n < 2
    or both have no spread."""
    from scipy import stats

    if not a or not b:
        raise ValueError("welch_interval needs at least one value in each group")
    (ma, va), (mb, vb) = mean_var(a), mean_var(b)
    diff = ma - mb
    if len(a) < 2 or len(b) < 2:
        return diff, None, None
    va, vb = va / len(a), vb / len(b)
    if va + vb == 0:
        return diff, None, None
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def replicates_to_decide(values: Sequence[float], min_effect: float,
                         limit: int = 100_000) -> tuple[int, str] | None:
    """(n, the verdict it would give): the fewest replicates whose t interval would decide
    the claim if the observed mean and sd held; None if no n up to `limit` would (or fewer
    than two values give no spread to plan with)."""
    from scipy import stats

    if len(values) < 2:
        return None
    mean, sd = mean_sd(values)
    if sd == 0:
        return (2, "reproduced" if mean > 0 else "contradicted") if (
            mean > 0 or mean < min_effect) else None
    best = None
    for target, margin in (("reproduced", mean), ("contradicted", min_effect - mean)):
        if margin <= 0:
            continue
        n = max(2, math.ceil((1.96 * sd / margin) ** 2))
        while n <= limit and float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n) >= margin:
            n += 1
        if n <= limit and (best is None or n < best[0]):
            best = (n, target)
    return best
