"""The plateau rule as a state machine over the validation metric, one value per epoch
(torch- and Lightning-free, so its behaviour is tested on scripted curves).

A plateau is *shown*, not assumed. When the robust (Theil–Sen) trend of the last `patience`
values gains at most `min_delta` points, the rule fires: the first `lr_drops` times it lowers
the learning rate (a fresh window follows); after that it does not stop training at once but
lets the model train on for a continuation window (`Stopping.continuation_epochs`, at the same
learning rate) and measures the gain: the median of the continuation's last `patience` values
minus the median of the window that fired (a level that has moved on, even late in the
continuation, counts; one outlying epoch does not). A gain of at most `min_delta` confirms
the plateau; a larger gain means the rule was wrong, and training goes on until the rule fires
again on a fresh window (and is confirmed), or the epoch maximum ends it unconfirmed.

A confirmed plateau stops training at an epoch that sits on it: the model scored afterwards is
the last epoch's, and a noisy run (Adam at lr 0.01) can be several points below its plateau on
any one epoch while the medians say "flat". So the rule stops at the first epoch, from the
confirming one on, whose value is at least the confirming median minus `min_delta` (most
epochs: about half lie above the median); until then it trains on, and a run that never climbs
back before its epoch maximum has not plateaued.

One plateau needs no continuation: a whole window at the metric's maximum (`CEILING`, 100 %).
Nothing can be gained there, so training stops at once (before `min_epochs`, without a
learning-rate drop): a continuation could only spend time.
"""

from __future__ import annotations

import statistics
from typing import Any

from .options import Stopping

__all__ = ["PlateauRule", "window_gain", "DROP", "STOP", "CEILING"]

DROP, STOP = "drop", "stop"
CEILING = 100.0  # the monitored metric is a percentage: no model scores above it


def window_gain(values: list[float]) -> float:
    """Points gained across `values` by their robust trend: the Theil–Sen slope (the median
    of the slopes between every pair of epochs, which one outlying epoch cannot swing)
    times (len - 1)."""
    n = len(values)
    if n < 2:
        return 0.0
    slopes = sorted((values[j] - values[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    m = len(slopes)
    median = slopes[m // 2] if m % 2 else (slopes[m // 2 - 1] + slopes[m // 2]) / 2
    return median * (n - 1)


class PlateauRule:
    """The rule's state: `step(value)` after every epoch says what to do (None, DROP, STOP).

    `fired`: the epochs (1-based) at which the final rule fired; `gains`: the gain measured
    over each continuation that followed (the last one confirmed the plateau when
    `plateaued`); `ceiling`: training stopped with a whole window at `CEILING`."""

    def __init__(self, rule: Stopping) -> None:
        self.rule = rule
        self.history: list[float] = []
        self.since = 0      # epochs since the start, the last learning-rate drop or a refuted fire
        self.drops = 0
        self.plateaued = False
        self.fired: list[int] = []
        self.gains: list[float] = []
        self.confirm_at: int | None = None   # the epoch the running continuation ends at
        self.reference: float | None = None  # the median of the window that fired
        self.ceiling = False
        self.settle: float | None = None  # confirmed: stop at the first epoch at least this high

    def step(self, value: float) -> str | None:
        """Record one epoch's validation value; DROP lowers the learning rate, STOP ends."""
        self.history.append(round(float(value), 4))
        self.since += 1
        epoch = len(self.history)
        window = self.history[-self.rule.patience:]
        if len(window) == self.rule.patience and min(window) >= CEILING:
            self.fired.append(epoch)
            self.confirm_at, self.reference, self.settle = None, None, None
            self.plateaued = self.ceiling = True
            return STOP
        if self.settle is not None:
            return self._stop_on_plateau(self.settle)
        if self.confirm_at is not None:
            return self._confirm(epoch)
        if (self.since < self.rule.patience or epoch < self.rule.min_epochs
                or window_gain(window) > self.rule.min_delta):
            return None
        if self.drops < self.rule.lr_drops:
            self.drops, self.since = self.drops + 1, 0
            return DROP
        self.fired.append(epoch)
        if self.rule.continuation <= 0:  # no proof asked for: the first plateau stops
            return self._stop_on_plateau(statistics.median(window) - self.rule.min_delta)
        self.reference = statistics.median(window)
        self.confirm_at = epoch + self.rule.continuation_epochs(epoch)
        return None

    def _confirm(self, epoch: int) -> str | None:
        if epoch < self.confirm_at:
            return None
        tail = self.history[self.fired[-1]:][-self.rule.patience:]
        gain = round(statistics.median(tail) - self.reference, 4)
        self.gains.append(gain)
        self.confirm_at, self.reference = None, None
        if gain <= self.rule.min_delta:
            return self._stop_on_plateau(statistics.median(tail) - self.rule.min_delta)
        self.since = 0  # still learning: the rule must fire again on a fresh window
        return None

    def _stop_on_plateau(self, level: float) -> str | None:
        """STOP when this epoch's value sits on the confirmed plateau (at least `level`);
        otherwise train on, waiting for one that does."""
        level = round(level, 4)  # as the history is kept: the same test on every epoch
        if self.history[-1] >= level:
            self.plateaued, self.settle = True, None
            return STOP
        self.settle = level
        return None

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs to go on exactly as an uninterrupted run."""
        return {"history": list(self.history), "since": self.since, "drops": self.drops,
                "plateaued": self.plateaued, "fired": list(self.fired),
                "gains": list(self.gains), "confirm_at": self.confirm_at,
                "reference": self.reference, "ceiling": self.ceiling, "settle": self.settle}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict` (missing keys: a fresh rule's values)."""
        self.history = [float(v) for v in state.get("history", [])]
        self.since, self.drops = int(state.get("since", 0)), int(state.get("drops", 0))
        self.plateaued = bool(state.get("plateaued", False))
        self.fired = [int(e) for e in state.get("fired", [])]
        self.gains = [float(g) for g in state.get("gains", [])]
        at, ref = state.get("confirm_at"), state.get("reference")
        self.confirm_at = None if at is None else int(at)
        self.reference = None if ref is None else float(ref)
        self.ceiling = bool(state.get("ceiling", False))
        settle = state.get("settle")
        self.settle = None if settle is None else float(settle)
