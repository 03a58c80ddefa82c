"""The checks that make a verdict's experiment valid (README: Verdicts and their checks).

- `converged`: every model behind the verdict reached its validation plateau (the rule of
  `stopping.StoppingSettings`); one that hit its epoch maximum still improving fails it.
- `sensitive`: a positive control shows the test could see an effect of min_effect in these
  models (Figures 4 and 6: channels ranked by their measured importance).
- claim-specific checks (`learned`, `below_ceiling`) built by each experiment with `check`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .verdicts import Check

__all__ = ["Fit", "converged_check", "check"]


@dataclass(frozen=True)
class Fit:
    """How one model's training ended, for the `converged` check."""

    label: str
    epochs: int
    max_epochs: int
    plateaued: bool


def converged_check(fits: Sequence[Fit], rule: str, *, flag: str = "--max-epochs") -> Check:
    """Passed when every fit plateaued; the detail names the ones that did not."""
    if not fits:
        return Check("converged", False, "no trained model behind this verdict")
    stuck = [f for f in fits if not f.plateaued]
    epochs = sorted(f.epochs for f in fits)
    span = f"{epochs[0]}" if epochs[0] == epochs[-1] else f"{epochs[0]}–{epochs[-1]}"
    if not stuck:
        return Check("converged", True, f"all {len(fits)} models plateaued after {span} epochs "
                     f"({rule})")
    names = ", ".join(f.label for f in stuck[:4]) + (" ..." if len(stuck) > 4 else "")
    return Check("converged", False,
                 f"{len(stuck)} of {len(fits)} models reached their {stuck[0].max_epochs}-epoch "
                 f"maximum still improving ({names}); {rule}: raise {flag} until "
                 "they plateau")


def check(name: str, passed: bool, detail: str) -> Check:
    """A claim-specific check."""
    return Check(name, bool(passed), detail)
