"""The plateau rule on scripted validation curves: a plateau is shown by training on past it,
not assumed from the first flat window."""

import pytest

from chanpos.training.options import FitResult, Stopping
from chanpos.training.plateau import DROP, STOP, PlateauRule
from chanpos.verdicts import converged_check

# climbs to 40, stays flat for 8 epochs (a false plateau), climbs again to 60, stays there
FALSE_PLATEAU = ([10.0 + 3 * i for i in range(11)] + [40.0] * 8
                 + [40.0 + 2 * i for i in range(1, 11)] + [60.0] * 40)


def _dipped(epochs: list[int], value: float = 50.0) -> list[float]:
    """FALSE_PLATEAU with the given (1-based) epochs dropped to `value`."""
    return [value if i + 1 in epochs else v for i, v in enumerate(FALSE_PLATEAU)]


def _run(curve: list[float], rule: Stopping, max_epochs: int) -> FitResult:
    """What fit() records when the validation metric follows `curve`."""
    r = PlateauRule(rule)
    for value in curve[:max_epochs]:
        if r.step(value) == STOP:
            break
    return FitResult(len(r.history), max_epochs, r.plateaued, tuple(r.history),
                     fired=tuple(r.fired), gains=tuple(r.gains), ceiling=r.ceiling)


def test_the_first_flat_window_alone_is_mistaken_for_a_plateau() -> None:
    old = _run(FALSE_PLATEAU, Stopping(patience=6, min_delta=1.0, continuation=0.0), 100)
    # stopped inside the flat stretch at 40, 20 points below where the model was going
    assert old.plateaued and old.epochs == 15 and old.history[-1] == 40.0
    assert max(FALSE_PLATEAU) - old.history[-1] == 20.0


def test_the_continuation_refutes_the_false_plateau_and_confirms_the_real_one() -> None:
    fit = _run(FALSE_PLATEAU, Stopping(patience=6, min_delta=1.0, continuation=0.5), 100)
    assert fit.fired[0] == 15 and fit.gains[0] > 1.0  # trained on: it was still learning
    assert fit.plateaued and fit.history[-1] == 60.0 and fit.gains[-1] <= 1.0
    assert len(fit.fired) == len(fit.gains) == 2
    # the confirming continuation was half the epochs trained when the rule fired
    assert fit.epochs == fit.fired[-1] + max(6, -(-fit.fired[-1] // 2))
    check = converged_check([("model", fit)], "the rule")
    assert check.passed and "continuation gains" in check.detail


def test_a_budget_that_ends_before_the_proof_fails_converged() -> None:
    fit = _run(FALSE_PLATEAU, Stopping(patience=6, min_delta=1.0, continuation=0.5), 30)
    assert not fit.plateaued and fit.epochs == 30
    check = converged_check([("model", fit)], "the rule")
    assert not check.passed
    assert "refuted a candidate plateau gained" in check.detail and "raise --max-epochs" in (
        check.detail)


@pytest.mark.parametrize("max_epochs", [12, 20, 30, 40])
def test_the_epochs_a_rerun_needs_are_a_lower_bound_the_full_run_meets(max_epochs: int) -> None:
    rule = Stopping(patience=6, min_delta=1.0, continuation=0.5)
    full = _run(FALSE_PLATEAU, rule, 100)
    cut = _run(FALSE_PLATEAU, rule, max_epochs)
    assert not cut.plateaued and full.plateaued
    need = rule.least_epochs(cut)
    assert max_epochs < need <= full.epochs
    assert not _run(FALSE_PLATEAU, rule, need - 1).plateaued  # one epoch fewer cannot do
    check = converged_check([("model", cut)], "the rule", least=rule.least_epochs)
    assert f"rerun with --max-epochs {need} or more" in check.detail


def test_a_cut_short_continuation_needs_only_its_own_end() -> None:
    rule = Stopping(patience=6, min_delta=1.0, continuation=0.5)
    cut = _run(FALSE_PLATEAU, rule, 20)  # fired at 15, its continuation ends at 15 + 8
    assert cut.fired == (15,) and cut.gains == ()
    assert rule.least_epochs(cut) == 23


def test_without_a_continuation_a_dip_at_the_maximum_needs_only_the_next_epoch() -> None:
    rule = Stopping(patience=6, min_delta=1.0, continuation=0.0)
    end = _run(FALSE_PLATEAU, rule, 100).epochs  # stops at the first flat window
    fit = _run(_dipped([end], value=30.0), rule, end)  # the plateau there is 40
    assert fit.fired == (end,) and not fit.plateaued  # fired, waiting to leave its dip
    assert rule.least_epochs(fit) == end + 1


def test_learning_rate_drops_come_before_the_candidate_plateaus() -> None:
    r = PlateauRule(Stopping(patience=3, min_delta=1.0, lr_drops=1, continuation=0.5))
    actions = [r.step(v) for v in [10.0, 10.0, 10.0]]
    assert actions == [None, None, DROP]
    actions = [r.step(v) for v in [10.0] * 3]  # fires: a candidate, not yet a stop
    assert actions == [None, None, None] and r.fired == [6] and not r.plateaued
    actions = [r.step(v) for v in [10.0] * 3]  # max(3, ceil(0.5 * 6)) = 3 epochs on: flat
    assert actions == [None, None, STOP] and r.plateaued and r.gains == [0.0]


def test_a_confirmed_plateau_stops_on_an_epoch_that_sits_on_it_not_in_a_dip() -> None:
    rule = Stopping(patience=6, min_delta=1.0, continuation=0.5)
    plain = _run(FALSE_PLATEAU, rule, 100)
    end = plain.epochs  # where the plateau at 60 is confirmed
    fit = _run(_dipped([end, end + 1]), rule, 100)
    # the same confirmation (the medians ignore the dip) ...
    assert fit.fired == plain.fired and fit.gains == plain.gains
    # ... but the weights it stops with are back on the plateau, two epochs later
    assert fit.plateaued and fit.epochs == end + 2 and fit.history[-1] == 60.0
    assert converged_check([("model", fit)], "the rule").passed


def test_a_run_still_in_its_dip_at_the_maximum_has_not_plateaued() -> None:
    rule = Stopping(patience=6, min_delta=1.0, continuation=0.5)
    end = _run(FALSE_PLATEAU, rule, 100).epochs
    fit = _run(_dipped([end, end + 1, end + 2]), rule, end + 2)
    assert not fit.plateaued and fit.history[-1] == 50.0 and fit.gains[-1] <= 1.0
    assert rule.least_epochs(fit) == end + 3  # the next epoch could be back on the plateau
    assert not converged_check([("model", fit)], "the rule", least=rule.least_epochs).passed


@pytest.mark.parametrize("curve", ["plain", "dipped"])
@pytest.mark.parametrize("cut", range(1, 60))
def test_a_rule_restored_from_its_state_decides_as_an_uninterrupted_one(cut: int, curve: str
                                                                        ) -> None:
    rule = Stopping(patience=6, min_delta=1.0, continuation=0.5)
    values = FALSE_PLATEAU if curve == "plain" else _dipped([50, 51])  # confirmed at 50
    whole = PlateauRule(rule)
    whole_actions = [whole.step(v) for v in values[:60]]
    first = PlateauRule(rule)
    actions = [first.step(v) for v in values[:cut]]
    again = PlateauRule(rule)
    again.load_state_dict(first.state_dict())
    actions += [again.step(v) for v in values[cut:60]]
    assert actions == whole_actions and again.state_dict() == whole.state_dict()


def test_a_whole_window_at_100_percent_stops_at_once_and_passes_converged() -> None:
    # min_epochs, a learning-rate drop and the continuation all wait for a model that can
    # still move; one at 100 % for a whole window cannot gain, so it stops there
    rule = Stopping(patience=6, min_delta=1.0, min_epochs=20, lr_drops=1, continuation=0.5)
    fit = _run([80.0, 99.0] + [100.0] * 40, rule, 60)
    assert fit.ceiling and fit.plateaued and fit.fired == (8,) and fit.gains == ()
    assert fit.epochs == 8
    check = converged_check([("gapnet", fit), ("other", _run(
        FALSE_PLATEAU, Stopping(patience=6, min_delta=1.0, continuation=0.5), 100))], "rule")
    assert check.passed and "1 at 100 % for a whole window" in check.detail
    assert "1 plateau confirmed by training on past it" in check.detail


def test_one_epoch_below_100_in_the_window_is_not_the_ceiling() -> None:
    rule = Stopping(patience=6, min_delta=1.0, min_epochs=20, continuation=0.5)
    r = PlateauRule(rule)
    actions = [r.step(v) for v in [100.0] * 5 + [99.67] + [100.0] * 5]
    assert STOP not in actions and not r.ceiling  # min_epochs holds: a window had 99.67
    assert r.step(100.0) == STOP and r.ceiling and len(r.history) == 12
