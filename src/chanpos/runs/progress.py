"""One progress bar per named phase of a run (features, probes, readouts, ranking, control,
curve), on stderr, only when the run's `progress` setting is on (the command line turns it on
for a terminal). A phase that is off costs nothing and prints nothing."""

from __future__ import annotations

from typing import Any

__all__ = ["Phase", "phase"]


class Phase:
    """A bar for `total` steps of the phase `name` (a no-op when not `enabled`)."""

    def __init__(self, name: str, total: int, *, enabled: bool, unit: str = "step") -> None:
        self._bar: Any = None
        if enabled and total > 0:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=name, unit=unit, leave=False, dynamic_ncols=True)

    def step(self, n: int = 1) -> None:
        """Advance by `n` steps."""
        if self._bar is not None:
            self._bar.update(n)

    def to(self, done: int) -> None:
        """Set the steps done so far to `done` (a callback that counts for itself)."""
        if self._bar is not None:
            self._bar.update(done - self._bar.n)

    @property
    def done(self) -> int:
        """Steps done so far (0 for a bar that is off)."""
        return 0 if self._bar is None else int(self._bar.n)

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def phase(name: str, total: int, enabled: bool, unit: str = "step") -> Phase:
    """A `Phase` bar (use as a context manager: the bar goes when the phase ends)."""
    return Phase(name, total, enabled=enabled, unit=unit)
