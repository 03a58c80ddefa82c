"""The verdict vocabulary: Student's t intervals against hand-computed values, the rule."""

import json

import pytest

from chanpos.verdicts import Claim, decide, judge, t_interval, welch_interval


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
                      "min_effect", "verdict", "checks", "planning", "values", "replicate_ids"}
    assert d["values"] == [3.0, 4.0, 5.0] and d["replicate_ids"] == ["1", "2", "3"]
    assert d["n"] == 3 and d["replicate"] == "seed" and d["effect"] == 4.0
    assert d["verdict"] == decide(*d["ci95"], d["min_effect"]) == "reproduced"
    assert json.loads(json.dumps(d)) == d
    assert judge(claim, [1.0], "seed").verdict == "inconclusive"
    with pytest.raises(ValueError):
        judge(Claim("z", "s", "p", "u", 0.0, "why"), [1.0, 2.0], "seed")


@pytest.mark.parametrize("effects", [[3.0, 4.0, 5.0], [-0.5, 0.0, 0.2, 0.1]])
def test_a_failed_check_makes_any_verdict_inconclusive_with_a_planning_estimate(effects) -> None:
    """Each failing case: what would be reproduced or contradicted is inconclusive."""
    from chanpos.verdicts import Check

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
    from chanpos.verdicts import replicates_to_decide

    # mean 1, sd 1: reproduced needs t(0.975, n-1) / sqrt(n) < 1 -> n = 7 (2.447/2.646 = 0.925;
    # n = 6: 2.571/2.449 = 1.05; min_effect = the mean: contradicting it is out of reach)
    assert replicates_to_decide([0.0, 1.0, 2.0], 1.0) == (7, "reproduced")
    # mean 0, sd 1, min_effect 1: contradicted needs the same margin
    assert replicates_to_decide([-1.0, 0.0, 1.0], 1.0) == (7, "contradicted")
    assert replicates_to_decide([1.0], 1.0) is None


def test_a_verdict_keeps_every_replicate_value_with_its_id() -> None:
    from chanpos.verdicts import Verdict

    claim = Claim("x.y", "s", "p", "points", 2.0, "why")
    v = judge(claim, [0.5, 1.5], "seed", ids=["seed 3", "seed 4"])
    back = Verdict.from_dict(v.as_dict())
    assert back == v and back.values == (0.5, 1.5) and back.replicate_ids == ("seed 3", "seed 4")
    with pytest.raises(ValueError, match="2 values but 1 replicate ids"):
        judge(claim, [0.5, 1.5], "seed", ids=["seed 3"])


def test_one_replicate_asks_for_a_second_instead_of_saying_none_would_decide() -> None:
    v = judge(Claim("x.y", "s", "p", "points", 2.0, "why"), [5.0], "trained model")
    assert v.verdict == "inconclusive" and v.ci95 == (None, None)
    assert "one trained model gives no spread to plan with: run at least 2 trained models" in (
        v.planning)
    assert "no number" not in v.planning


def test_the_verdict_table_finds_the_claim_of_a_verdict_about_one_of_several_sources() -> None:
    from dataclasses import replace

    from chanpos.verdicts import verdict_table

    claim = Claim("table2.consistency", "s", "Table 2: 90.8 -> 94.8", "points", 1.0,
                  "a quarter of the paper's gain")
    v = replace(judge(claim, [2.0, 3.0, 4.0], "seed"), claim="table2.consistency.cifar100")
    text = "\n".join(verdict_table([v], {claim.claim: claim}))
    assert "| `table2.consistency.cifar100`: s | Table 2: 90.8 -> 94.8 |" in text
    assert "min_effect 1: a quarter of the paper's gain" in text
