"""One verdict vocabulary for every claim: an effect, its 95 % interval over independent
replicates, and a fixed rule.

`effect` is signed so that positive = the paper's direction. The interval is Student's t over
the replicates' effects (`scipy.stats.t`): mean ± t(0.975, n - 1) · sd / sqrt(n), sd the sample
standard deviation. What one replicate is (a test image, a training seed, a trained model, a
random channel draw) is stated with every verdict. The rule:

- reproduced   if lo > 0,
- contradicted if hi < min_effect and lo <= 0,
- inconclusive otherwise (including n < 2, where no interval exists).

`min_effect` (> 0) is the smallest effect that would matter; each claim states its reason.

A verdict also carries the `checks` that make its experiment valid (`Check`: the models
plateaued, a positive control could see an effect of min_effect, ...). It is decided
(reproduced or contradicted) only when every check passed; otherwise it is inconclusive
whatever its interval says. An inconclusive verdict carries a `planning` estimate: how many
replicates would decide it if the observed effect and spread held.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["VERDICTS", "Claim", "Check", "Verdict", "t_interval", "welch_interval", "decide",
           "judge", "replicates_to_decide", "verdict_table", "plot_verdicts", "INTERVAL_METHOD"]

VERDICTS = ("reproduced", "contradicted", "inconclusive")
INTERVAL_METHOD = ("95 % interval: Student's t over independent replicates, mean ± "
                   "t(0.975, n−1)·sd/√n. Rule: reproduced if lo > 0; contradicted if hi < "
                   "min_effect and lo ≤ 0; otherwise inconclusive. A verdict is decided only when every "
                   "check of its experiment passed.")


@dataclass(frozen=True)
class Claim:
    """A claim of the paper as chanpos tests it: what is measured and what would matter."""

    claim: str           # id, e.g. "table2.consistency"
    statement: str       # the paper's claim in one sentence
    paper: str           # what the paper reports, for the verdict table
    unit: str
    min_effect: float
    min_effect_reason: str


@dataclass(frozen=True)
class Check:
    """One condition of a valid experiment: its name, whether it passed, and what was seen
    (with, when it failed, what would pass it)."""

    check: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    """A judged claim: results.json's `verdicts` entries have exactly these keys."""

    claim: str
    statement: str
    effect: float
    ci95: tuple[float | None, float | None]
    unit: str
    n: int
    replicate: str
    min_effect: float
    verdict: str
    checks: tuple[Check, ...] = ()
    planning: str | None = None

    @property
    def failed_checks(self) -> list[Check]:
        """The checks that did not pass."""
        return [c for c in self.checks if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of this verdict (ci95 as a two-element list)."""
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        d["checks"] = [asdict(c) for c in self.checks]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        """Inverse of `as_dict` (sub-runs' results.json)."""
        return cls(**{**d, "ci95": tuple(d["ci95"]),
                      "checks": tuple(Check(**c) for c in d.get("checks", ()))})


def t_interval(values: Sequence[float], confidence: float = 0.95
               ) -> tuple[float, float | None, float | None]:
    """(mean, lo, hi) of Student's t interval for the mean of `values`; no interval if n < 2."""
    from scipy import stats

    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("t_interval needs at least one value")
    mean = math.fsum(xs) / n
    if n < 2:
        return mean, None, None
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
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
    ma, mb = math.fsum(a) / len(a), math.fsum(b) / len(b)
    diff = ma - mb
    if len(a) < 2 or len(b) < 2:
        return diff, None, None
    va = math.fsum((x - ma) ** 2 for x in a) / (len(a) - 1) / len(a)
    vb = math.fsum((x - mb) ** 2 for x in b) / (len(b) - 1) / len(b)
    if va + vb == 0:
        return diff, None, None
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def decide(lo: float | None, hi: float | None, min_effect: float) -> str:
    """The rule: reproduced (lo > 0), contradicted (hi < min_effect, lo <= 0), inconclusive."""
    if lo is None or hi is None:
        return "inconclusive"
    if lo > 0:
        return "reproduced"
    if hi < min_effect:
        return "contradicted"
    return "inconclusive"


def replicates_to_decide(values: Sequence[float], min_effect: float,
                         limit: int = 100_000) -> tuple[int, str] | None:
    """(n, the verdict it would give): the fewest replicates whose t interval would decide
    the claim if the observed mean and sd held; None if no n up to `limit` would."""
    from scipy import stats

    xs = [float(v) for v in values]
    if len(xs) < 2:
        return None
    mean = math.fsum(xs) / len(xs)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
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


def _planning(values: Sequence[float], claim: Claim, replicate: str,
              failed: list[Check]) -> str:
    need = replicates_to_decide(values, claim.min_effect)
    if need is None:
        more = (f"no number of {_plural(replicate)} would decide it at the observed effect "
                "and spread")
    else:
        more = (f"about {need[0]} {_plural(replicate)} would make it {need[1]} if the observed "
                f"effect and spread held (now {len(values)})")
    if failed:
        return (f"planning estimate: first pass {', '.join(c.check for c in failed)} (see the "
                f"check details); then {more}")
    return f"planning estimate: {more}"


def judge(claim: Claim, values: Sequence[float], replicate: str,
          checks: Sequence[Check] = ()) -> Verdict:
    """The verdict on `claim` from one effect per independent replicate; decided only when
    every one of `checks` passed."""
    if not claim.min_effect > 0:
        raise ValueError(f"min_effect of {claim.claim} must be > 0, got {claim.min_effect}")
    mean, lo, hi = t_interval(values)
    checks = tuple(checks)
    failed = [c for c in checks if not c.passed]
    verdict = decide(lo, hi, claim.min_effect) if not failed else "inconclusive"
    planning = _planning(values, claim, replicate, failed) if verdict == "inconclusive" else None
    return Verdict(claim=claim.claim, statement=claim.statement, effect=round(mean, 4),
                   ci95=(_round(lo), _round(hi)), unit=claim.unit, n=len(values),
                   replicate=replicate, min_effect=claim.min_effect, verdict=verdict,
                   checks=checks, planning=planning)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _plural(word: str) -> str:
    return word + ("es" if word.endswith("s") else "s")


def _ci(v: Verdict) -> str:
    lo, hi = v.ci95
    return "no interval" if lo is None else f"[{lo:+.2f}, {hi:+.2f}]"


def verdict_table(verdicts: Sequence[Verdict], claims: dict[str, Claim]) -> list[str]:
    """Markdown lines: claim, paper, ours as effect [95 % CI] with n, verdict; then the reasons."""
    lines = ["| claim | paper | ours: effect [95 % CI] (n) | min effect | checks | verdict |",
             "|---|---|---|---|---|---|"]
    for v in verdicts:
        c = claims.get(v.claim)
        marks = ", ".join(f"{k.check} {'✓' if k.passed else '✗'}" for k in v.checks) or "–"
        lines.append(
            f"| `{v.claim}`: {v.statement} | {c.paper if c else '–'} | {v.effect:+.2f} "
            f"{v.unit} {_ci(v)} (n = {v.n} {_plural(v.replicate)}) | {v.min_effect:g} | "
            f"{marks} | **{v.verdict}** |")
    lines += ["", INTERVAL_METHOD, ""]
    for v in verdicts:
        for k in v.checks:
            lines.append(f"- `{v.claim}` check **{k.check}** "
                         f"{'passed' if k.passed else 'FAILED'}: {k.detail}")
        if v.planning:
            lines.append(f"- `{v.claim}` is inconclusive; {v.planning}.")
    lines.append("")
    for v in verdicts:
        c = claims.get(v.claim)
        if c:
            lines.append(f"- `{v.claim}`: effect = {c.unit}, positive = the paper's direction; "
                         f"min_effect {c.min_effect:g}: {c.min_effect_reason}")
    return lines


def plot_verdicts(verdicts: Sequence[Verdict], path: Path) -> Path:
    """One row per claim: effect with its 95 % interval, zero and min_effect lines."""
    from .reporting import new_figure, save_figure

    fig, axes = new_figure(len(verdicts), 1, (7.5, 1.1 + 0.9 * len(verdicts)))
    colours = {"reproduced": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:gray"}
    for ax, v in zip(axes[:, 0], verdicts, strict=True):
        lo, hi = v.ci95
        err = None if lo is None else [[v.effect - lo], [hi - v.effect]]
        ax.errorbar([v.effect], [0], xerr=err, fmt="o", color=colours[v.verdict], capsize=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.axvline(v.min_effect, color="tab:blue", lw=0.8, ls="--")
        ax.set_yticks([])
        ax.set_title(f"{v.claim}: {v.verdict} (n = {v.n} {_plural(v.replicate)})", fontsize=8,
                     loc="left")
        ax.set_xlabel(v.unit, fontsize=7)
        ax.tick_params(labelsize=7)
        xs = [0, v.min_effect, v.effect] + ([lo, hi] if lo is not None else [])
        pad = 0.1 * (max(xs) - min(xs) or 1)
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
    fig.suptitle("Effects (positive = the paper's direction), 95 % intervals; dashed: min effect",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
