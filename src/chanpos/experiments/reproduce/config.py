"""`chanpos reproduce`'s settings: the profile, which experiments, the first seed, and the
settings every experiment gets. The experiments are the registry's (`Entry.reproduce`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...errors import ChanposError
from ...runs.compose import resolve
from ...runs.profiles import load_profile
from ...runs.registry import entries, entry
from ...runs.settings import setting
from ...runs.shared import RunSettings
from ...runs.validate import MAX_SEED

__all__ = ["ReproduceConfig", "reproduce_config", "reproduced_experiments", "PASSED"]

# the settings a sub-experiment takes from reproduce's (every RunSettings field but the
# profile, which picks the sub-experiment's own profile of the same name)
PASSED = tuple(f.name for f in fields(RunSettings) if f.name != "profile")


def reproduced_experiments() -> tuple[str, ...]:
    """The registered experiments `chanpos reproduce` runs, in registry order."""
    return tuple(e.name for e in entries() if e.reproduce)


@dataclass(frozen=True, kw_only=True)
class ReproduceConfig(RunSettings):
    """The profile, which experiments, the first seed, and the settings every experiment gets."""

    experiments: tuple[str, ...] = setting(
        reproduced_experiments(), help="Experiments to run (default: all of them; an "
        "experiment that needs another's products needs it listed too).",
        choices=reproduced_experiments, what="experiment", metavar="LIST")
    seed: int | None = setting(None, help="First training seed: each experiment then uses "
                               "seeds seed, seed+1, ... (as many as its profile has; default: "
                               "the profiles' seeds).", minimum=0, maximum=MAX_SEED,
                               none_word="profile", metavar="N")

    def sub_overrides(self, name: str) -> dict[str, Any]:
        """The overrides of experiment `name`: the shared settings, and the seeds."""
        over = {k: getattr(self, k) for k in PASSED}
        seeds = load_profile(name, self.profile).get("seeds")
        if self.seed is not None and seeds:
            over["seeds"] = tuple(self.seed + i for i in range(len(seeds)))
        return over


def reproduce_config(base: str | Mapping[str, Any] = "quick",
                     overrides: Mapping[str, Any] | None = None) -> ReproduceConfig:
    """A profile name (or saved settings) + command-line values -> the config; `jobs` and
    `threads` stay as given (each experiment fixes its own from its cells)."""
    if isinstance(base, str):
        cfg = resolve(ReproduceConfig, "reproduce", {"profile": base}, overrides,
                      complete=False)
    else:
        cfg = resolve(ReproduceConfig, "reproduce", base, overrides)
    if not cfg.experiments:
        raise ChanposError("--experiments needs at least one of: "
                           + ", ".join(reproduced_experiments()))
    for name in cfg.experiments:  # an unknown profile is one line now, not mid-run
        load_profile(name, cfg.profile)
        missing = [n for n in entry(name).needs if n not in cfg.experiments]
        if missing:
            raise ChanposError(f"--experiments {name} needs what {missing[0]} makes: add "
                               f"{missing[0]} to --experiments")
    return cfg
