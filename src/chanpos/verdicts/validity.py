"""The checks that make a verdict's experiment valid (README: Verdicts and their checks).

- `converged`: every model behind the verdict reached its validation plateau; one that hit its
  epoch maximum still improving fails it.
- claim-specific checks (`learned`, `below_ceiling`, `sensitive`, ...) built by each
  experiment with `check`.

Torch-free: a finished training run is anything with the `TrainingEnd` attributes
(`chanpos.training.FitResult` is the one type chanpos records).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .rule import Check

__all__ = ["TrainingEnd", "converged_check", "check"]


class TrainingEnd(Protocol):
    """How one training run ended (what the `converged` check reads)."""

    epochs: int
    max_epochs: int
    plateaued: bool


def converged_check(fits: Sequence[tuple[str, TrainingEnd]], rule: str, *,
                    flag: str = "--max-epochs") -> Check:
    """Passed when every (label, fit) plateaued; the detail names the ones that did not."""
    if not fits:
        return Check("converged", False, "no trained model behind this verdict")
    stuck = [(label, f) for label, f in fits if not f.plateaued]
    epochs = sorted(f.epochs for _, f in fits)
    span = f"{epochs[0]}" if epochs[0] == epochs[-1] else f"{epochs[0]}–{epochs[-1]}"
    if not stuck:
        return Check("converged", True, f"all {len(fits)} models plateaued after {span} epochs "
                     f"({rule})")
    names = ", ".join(label for label, _ in stuck[:4]) + (" ..." if len(stuck) > 4 else "")
    return Check("converged", False,
                 f"{len(stuck)} of {len(fits)} models reached their {stuck[0][1].max_epochs}-"
                 f"epoch maximum still improving ({names}); {rule}: raise {flag} until "
                 "they plateau")


def check(name: str, passed: bool, detail: str) -> Check:
    """A claim-specific check."""
    return Check(name, bool(passed), detail)
