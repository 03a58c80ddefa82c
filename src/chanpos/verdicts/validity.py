"""The checks that make a verdict's experiment valid (README: Verdicts and their checks).

- `converged`: every model behind the verdict reached its validation plateau; one that hit its
  epoch maximum still improving fails it.
- claim-specific checks (`learned`, `below_ceiling`, `sensitive`, ...) built by each
  experiment with `check`.

Torch-free: a finished training run is anything with the `TrainingEnd` attributes
(`chanpos.training.FitResult` is the one type chanpos records).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from .rule import Check

__all__ = ["TrainingEnd", "converged_check", "check"]


class TrainingEnd(Protocol):
    """How one training run ended (what the `converged` check reads): `gains` are the gains
    measured over the continuation after each firing of the plateau rule (the last one
    confirmed the plateau when `plateaued`); a run may also carry `ceiling` (True: it stopped
    with a whole window at 100 %, where no continuation can gain)."""

    epochs: int
    max_epochs: int
    plateaued: bool
    gains: tuple[float, ...]


def _span(values: list[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if lo == hi else f"{format(lo, fmt)} to {format(hi, fmt)}"


def converged_check(fits: Sequence[tuple[str, TrainingEnd]], rule: str, *,
                    flag: str = "--max-epochs",
                    least: Callable[[TrainingEnd], int] | None = None) -> Check:
    """Passed when every (label, fit) reached a plateau that its continuation confirmed; the
    detail gives the confirming gains, and names the models that did not plateau with, given
    `least` (the rule's fewest epochs to confirm a plateau after such a run), the epoch
    maximum a rerun needs at the very least."""
    if not fits:
        return Check("converged", False, "no trained model behind this verdict")
    stuck = [(label, f) for label, f in fits if not f.plateaued]
    epochs = [float(f.epochs) for _, f in fits]
    if not stuck:
        top = [f for _, f in fits if getattr(f, "ceiling", False)]
        confirmed = [f.gains[-1] for _, f in fits if f not in top and getattr(f, "gains", ())]
        parts = ([f"{'each' if not top else len(confirmed)} plateau confirmed by training on "
                  f"past it (continuation gains {_span(confirmed, '+.2f')} points)"]
                 if confirmed else []) + (
            [f"{len(top)} at 100 % for a whole window, where nothing can be gained"]
            if top else [])
        proof = ("; " + "; ".join(parts) if len(confirmed) + len(top) == len(fits) else "")
        return Check("converged", True, f"all {len(fits)} models plateaued after "
                     f"{_span(epochs, '.0f')} epochs{proof} ({rule})")
    names = ", ".join(label for label, _ in stuck[:4]) + (" ..." if len(stuck) > 4 else "")
    refuted = [g for _, f in stuck for g in getattr(f, "gains", ())]
    seen = (f"; continuations that refuted a candidate plateau gained "
            f"{_span(refuted, '+.2f')} points" if refuted else "")
    fix = f"raise {flag} until they plateau"
    if least is not None:
        need = max(least(f) for _, f in stuck)
        fix = (f"a confirmed plateau needs at least {need} epochs (a candidate and its "
               f"continuation), more while they still rise: rerun with {flag} {need} or more")
    return Check("converged", False,
                 f"{len(stuck)} of {len(fits)} models reached their {stuck[0][1].max_epochs}-"
                 f"epoch maximum without a confirmed plateau ({names}){seen}; {rule}: {fix}")


def check(name: str, passed: bool, detail: str) -> Check:
    """A claim-specific check."""
    return Check(name, bool(passed), detail)
