"""One verdict vocabulary for every claim: an effect, its 95 % interval over independent
replicates, and a fixed rule.

`effect` is signed so that positive = the paper's direction. The interval is Student's t over
the replicates' effects: mean ± t(0.975, n - 1) · sd / sqrt(n), sd the sample standard
deviation. What one replicate is (a training seed, a trained model, a random channel draw, a
probe replicate) is stated with every verdict, and every replicate's value is kept with its id
so that an inconclusive verdict can be examined. The rule:

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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .stats import replicates_to_decide, t_interval

__all__ = ["VERDICTS", "INTERVAL_METHOD", "Claim", "Check", "Verdict", "decide", "judge",
           "claim_of", "plural"]

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
    """A judged claim: results.json's `verdicts` entries have exactly these keys.

    `values[i]` is the effect of replicate `replicate_ids[i]` (the interval is over them)."""

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
    values: tuple[float, ...] = ()
    replicate_ids: tuple[str, ...] = ()

    @property
    def failed_checks(self) -> list[Check]:
        """The checks that did not pass."""
        return [c for c in self.checks if not c.passed]

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of this verdict (ci95 as a two-element list)."""
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        d["checks"] = [asdict(c) for c in self.checks]
        d["values"] = list(self.values)
        d["replicate_ids"] = list(self.replicate_ids)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Verdict:
        """Inverse of `as_dict` (sub-runs' results.json); anything that is not a verdict
        (a wrong type, a missing key, a number that is not finite, an unknown verdict word)
        raises ValueError."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a verdict is a mapping, got {type(d).__name__}")
        try:
            lo, hi = d["ci95"]
            v = cls(claim=_text(d["claim"]), statement=_text(d["statement"]),
                    effect=_finite(d["effect"]), ci95=(_maybe(lo), _maybe(hi)),
                    unit=_text(d["unit"]), n=_count(d["n"]), replicate=_text(d["replicate"]),
                    min_effect=_finite(d["min_effect"]), verdict=_text(d["verdict"]),
                    checks=tuple(Check(_text(c["check"]), _flag(c["passed"]),
                                       _text(c["detail"])) for c in d.get("checks", ())),
                    planning=None if d.get("planning") is None else _text(d["planning"]),
                    values=tuple(_finite(x) for x in d.get("values", ())),
                    replicate_ids=tuple(_text(x) for x in d.get("replicate_ids", ())))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a verdict ({type(exc).__name__}: {exc})") from None
        if v.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {v.verdict!r}")
        return v


def _text(x: Any) -> str:
    if not isinstance(x, str):
        raise TypeError(f"expected text, got {type(x).__name__}")
    return x


def _flag(x: Any) -> bool:
    if not isinstance(x, bool):
        raise TypeError(f"expected true or false, got {type(x).__name__}")
    return x


def _count(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < 2**63:
        raise TypeError(f"expected a count, got {x!r}")
    return x


def _finite(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"expected a number, got {type(x).__name__}")
    try:
        value = float(x)
    except OverflowError:
        raise TypeError("a number too large for a float") from None
    if not math.isfinite(value):
        raise TypeError(f"expected a finite number, got {x!r}")
    return value


def _maybe(x: Any) -> float | None:
    return None if x is None else _finite(x)


def decide(lo: float | None, hi: float | None, min_effect: float) -> str:
    """The rule: reproduced (lo > 0), contradicted (hi < min_effect, lo <= 0), inconclusive."""
    if lo is None or hi is None:
        return "inconclusive"
    if lo > 0:
        return "reproduced"
    if hi < min_effect:
        return "contradicted"
    return "inconclusive"


def plural(word: str) -> str:
    """'seed' -> 'seeds', 'class' -> 'classes'."""
    return word + ("es" if word.endswith("s") else "s")


def _planning(values: Sequence[float], claim: Claim, replicate: str,
              failed: list[Check]) -> str:
    if len(values) < 2:
        more = (f"one {replicate} gives no spread to plan with: run at least 2 "
                f"{plural(replicate)} (now {len(values)})")
    elif (need := replicates_to_decide(values, claim.min_effect)) is None:
        more = (f"no number of {plural(replicate)} would decide it at the observed effect "
                "and spread")
    else:
        more = (f"about {need[0]} {plural(replicate)} would make it {need[1]} if the observed "
                f"effect and spread held (now {len(values)})")
    if failed:
        return (f"planning estimate: first pass {', '.join(c.check for c in failed)} (see the "
                f"check details); then {more}")
    return f"planning estimate: {more}"


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def judge(claim: Claim, values: Sequence[float], replicate: str,
          checks: Sequence[Check] = (), ids: Sequence[str] | None = None) -> Verdict:
    """The verdict on `claim` from one effect per independent replicate (`ids` names them;
    default 1, 2, ...); decided only when every one of `checks` passed."""
    if not claim.min_effect > 0:
        raise ValueError(f"min_effect of {claim.claim} must be > 0, got {claim.min_effect}")
    ids = tuple(str(i) for i in ids) if ids is not None else tuple(
        str(i + 1) for i in range(len(values)))
    if len(ids) != len(values):
        raise ValueError(f"{len(values)} values but {len(ids)} replicate ids")
    mean, lo, hi = t_interval(values)
    checks = tuple(checks)
    failed = [c for c in checks if not c.passed]
    verdict = decide(lo, hi, claim.min_effect) if not failed else "inconclusive"
    planning = _planning(values, claim, replicate, failed) if verdict == "inconclusive" else None
    return Verdict(claim=claim.claim, statement=claim.statement, effect=round(mean, 4),
                   ci95=(_round(lo), _round(hi)), unit=claim.unit, n=len(values),
                   replicate=replicate, min_effect=claim.min_effect, verdict=verdict,
                   checks=checks, planning=planning,
                   values=tuple(round(float(v), 4) for v in values), replicate_ids=ids)


def claim_of(claims: Mapping[str, Claim], claim_id: str) -> Claim | None:
    """The claim a verdict id is about: the id itself, or, for a verdict of one of several
    subjects (`table2.consistency.cifar100`), the id without its last `.subject` part."""
    if claim_id in claims:
        return claims[claim_id]
    base = claim_id.rsplit(".", 1)[0]
    return claims.get(base) if base != claim_id else None
