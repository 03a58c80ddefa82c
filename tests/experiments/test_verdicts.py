"""The verdict vocabulary: Student's t intervals against hand-computed values, the rule."""

import json

import pytest

from chanpos.experiments.claims import CLAIMS
from chanpos.experiments.verdicts import Claim, decide, judge, t_interval, welch_interval


def test_t_interval_by_hand() -> None:
    # values 1, 2, 3: mean 2, sd 1, n 3; t(0.975, 2) = 4.302652729911275
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / 3 ** 0.5
    assert mean == 2.0 and lo == pytest.approx(2 - half, abs=1e-9)
    assert hi == pytest.approx(2 + half, abs=1e-9)
    # large n approaches the normal quantile
    _, lo, hi = t_interval([0.0, 1.0] * 5000)
    assert (hi - lo) / 2 == pytest.approx(1.96 * 0.5000250 / 10000 ** 0.5, rel=1e-3)
    assert t_interval([4.0]) == (4.0, None, None)
    with pytest.raises(ValueError):
        t_interval([])


def test_welch_interval_against_scipy() -> None:
    from scipy import stats

    a, b = [1.0, 2.5, 3.0, 4.5], [0.0, 0.2, 1.9]
    diff, lo, hi = welch_interval(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(sum(a) / 4 - sum(b) / 3)
    assert (lo, hi) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert welch_interval([1.0], b)[1:] == (None, None)
    assert welch_interval([1.0, 1.0], [2.0, 2.0]) == (-1.0, None, None)


@pytest.mark.parametrize(("lo", "hi", "min_effect", "expected"), [
    (0.1, 5.0, 1.0, "reproduced"),
    (-0.5, 0.9, 1.0, "contradicted"),
    (-3.0, -1.0, 1.0, "contradicted"),
    (0.0, 0.5, 1.0, "contradicted"),     # lo = 0 is not > 0
    (-0.5, 1.5, 1.0, "inconclusive"),
    (-0.5, 1.0, 1.0, "inconclusive"),    # hi must be strictly below min_effect
    (None, None, 1.0, "inconclusive"),
])
def test_decide(lo, hi, min_effect, expected) -> None:
    assert decide(lo, hi, min_effect) == expected


def test_judge_keys_and_consistency_with_its_own_interval() -> None:
    claim = Claim("x.y", "s", "p", "points", 2.0, "why")
    v = judge(claim, [3.0, 4.0, 5.0], "seed")
    d = v.as_dict()
    assert set(d) == {"claim", "statement", "effect", "ci95", "unit", "n", "replicate",
                       "min_effect", "verdict", "checks", "planning"}
    assert d["n"] == 3 and d["replicate"] == "seed" and d["effect"] == 4.0
    assert d["verdict"] == decide(*d["ci95"], d["min_effect"]) == "reproduced"
    assert json.loads(json.dumps(d)) == d
    assert judge(claim, [1.0], "seed").verdict == "inconclusive"
    with pytest.raises(ValueError):
        judge(Claim("z", "s", "p", "u", 0.0, "why"), [1.0, 2.0], "seed")


def test_every_claim_of_the_issue_is_defined_with_a_positive_min_effect() -> None:
    assert set(CLAIMS) == {"table1.location", "table1.object", "table2.consistency",
                           "table2.vs_equal_compute", "figure4", "figure6",
                           "audit.pooled_position", "audit.order_carries_position",
                           "audit.order_free_semantics"}
    for c in CLAIMS.values():
        assert c.min_effect > 0 and c.min_effect_reason and c.statement and c.paper


@pytest.mark.parametrize("effects", [[3.0, 4.0, 5.0], [-0.5, 0.0, 0.2, 0.1]])
def test_a_failed_check_makes_any_verdict_inconclusive_with_a_planning_estimate(effects) -> None:
    """Each failing case: what would be reproduced or contradicted is inconclusive."""
    from chanpos.experiments.verdicts import Check

    claim = Claim("x.y", "s", "p", "points", 2.0, "why")
    decided = judge(claim, effects, "seed", [Check("converged", True, "ok")])
    assert decided.verdict in ("reproduced", "contradicted") and decided.planning is None
    for failed in (Check("converged", False, "2 of 4 models still improving"),
                   Check("sensitive", False, "the control moved mIoU by 0.1")):
        v = judge(claim, effects, "seed", [Check("converged", True, "ok"), failed])
        assert v.verdict == "inconclusive"
        assert v.planning.startswith("planning estimate: first pass " + failed.check)
        assert [c.check for c in v.failed_checks] == [failed.check]
        assert v.as_dict()["checks"][1] == {"check": failed.check, "passed": False,
                                             "detail": failed.detail}


def test_replicates_to_decide_by_hand() -> None:
    from chanpos.experiments.verdicts import replicates_to_decide

    # mean 1, sd 1: reproduced needs t(0.975, n-1) / sqrt(n) < 1 -> n = 7 (2.447/2.646 = 0.925;
    # n = 6: 2.571/2.449 = 1.05; min_effect = the mean: contradicting it is out of reach)
    assert replicates_to_decide([0.0, 1.0, 2.0], 1.0) == (7, "reproduced")
    # mean 0, sd 1, min_effect 1: contradicted needs the same margin
    assert replicates_to_decide([-1.0, 0.0, 1.0], 1.0) == (7, "contradicted")
    assert replicates_to_decide([1.0], 1.0) is None
