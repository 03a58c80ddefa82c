"""Training to a plateau: the settings of the plateau rule every training experiment shares.

Models are trained until their metric on a validation split (images held out of the
training split, never the test split) stops improving, at most `max_epochs`. The rule itself
is one type, `chanpos.training.Stopping` (its defaults are these settings' defaults);
`PlateauSettings` are its fields as settings (one flag each) plus the epoch maximum and the
validation split. A model that reaches `max_epochs` still improving has not plateaued, and a
verdict resting on it is inconclusive (the `converged` check). Lightning-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..training.options import Stopping
from .settings import setting

__all__ = ["PlateauSettings"]

_RULE = Stopping()  # the rule's defaults


@dataclass(frozen=True, kw_only=True)
class PlateauSettings:
    """When training stops: at a validation plateau, or at the epoch maximum."""

    PANEL: ClassVar[str] = "Training to a plateau"

    max_epochs: int = setting(help="The most epochs a model trains; it stops earlier at a "
                              "confirmed validation plateau (--patience, --min-delta, "
                              "--continuation).", minimum=1)
    patience: int = setting(
        _RULE.patience, help="The plateau window: the rule fires when the robust (Theil–Sen) "
        "trend of the last this-many epochs' validation values gains at most --min-delta "
        "points across them.", minimum=2)
    min_delta: float = setting(
        _RULE.min_delta, help="The smallest gain (points of accuracy or mIoU) across the "
        "window, or over a continuation, that counts as progress; also how far below a "
        "confirmed plateau's median the epoch training stops on may sit (a dip waits for the "
        "next epoch on the plateau).", minimum=0.0)
    min_epochs: int = setting(
        _RULE.min_epochs, help="Never stop before this many epochs (except with a whole "
        "window at 100 %, where nothing can be gained).", minimum=1)
    lr_drops: int = setting(
        _RULE.lr_drops, help="Firings of the rule that lower the learning rate (x "
        "--lr-factor) before the next one is a candidate plateau (needs a constant "
        "schedule).", minimum=0)
    lr_factor: float = setting(
        _RULE.lr_factor, help="Learning-rate factor at each of the --lr-drops firings.",
        minimum=0.0, strict=True, maximum=1.0)
    continuation: float = setting(
        _RULE.continuation, help="A candidate plateau is shown, not assumed: the model trains "
        "on for this fraction of the epochs trained so far (at least --patience epochs, at "
        "the same learning rate), and the plateau counts only if the median validation value "
        "of those epochs gains at most --min-delta over the window that fired (then it "
        "stops at the first epoch within --min-delta of that median); otherwise training "
        "goes on. 0 = stop at the first candidate (unproven).", minimum=0.0)
    val_samples: int = setting(help="Images held out of the training split as the validation "
                               "split the plateau rule watches (never test images).",
                               minimum=1)

    def check_schedule(self, schedule: str) -> None:
        """--lr-drops changes the learning rate itself: it needs a constant schedule."""
        if self.lr_drops and schedule != "constant":
            from ..errors import ChanposError

            raise ChanposError(f"--lr-drops {self.lr_drops} lowers the learning rate at "
                               f"plateaus, which a {schedule} schedule would undo; use "
                               "--schedule constant or --lr-drops 0")

    def stopping(self) -> Any:
        """The plateau rule of these settings."""
        return Stopping(patience=self.patience, min_delta=self.min_delta,
                        min_epochs=self.min_epochs, lr_drops=self.lr_drops,
                        lr_factor=self.lr_factor, continuation=self.continuation)

    def stopping_rule(self, rule: Any = None, max_epochs: int | None = None) -> str:
        """The rule (this config's, or `rule`, with its epoch maximum) in one sentence, for
        reports and checks."""
        rule = rule or self.stopping()
        max_epochs = max_epochs or self.max_epochs
        plateau = (f"the robust (Theil–Sen) trend of the last {rule.patience} epochs' validation "
                   f"metric gains at most {rule.min_delta:g} points across them")
        drops = (f"the first {rule.lr_drops} firing{'s' if rule.lr_drops > 1 else ''} "
                 f"multipl{'y' if rule.lr_drops > 1 else 'ies'} the learning rate by "
                 f"{rule.lr_factor:g}; " if rule.lr_drops else "")
        proof = (f"a later one is confirmed by training on {rule.continuation:.0%} of the "
                 f"epochs so far (at least {rule.patience}) at the same learning rate, stopping "
                 f"only if their median gains at most {rule.min_delta:g} points over the "
                 "window's, at the first epoch at most that much below their median"
                 if rule.continuation > 0 else "a later one stops training at the first epoch "
                 f"at most {rule.min_delta:g} points below the window's median")
        return (f"the rule fires when {plateau}; {drops}{proof} (at least {rule.min_epochs}, "
                f"at most {max_epochs} epochs; a whole window at 100 % stops at once)")
