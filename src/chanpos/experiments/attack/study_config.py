"""`chanpos attack --study`'s settings: the profile, the study arms to run, and the attack
settings given on the command line (every arm gets them; an arm's own factor wins).

A study arm is one whole attack run with one factor changed (study_profiles.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ChanposError
from ...runs.folders import to_plain
from ...runs.profiles import read_profiles
from ...runs.settings import from_plain, setting
from .config import AttackConfig, attack_config

__all__ = ["StudyConfig", "study_config", "study_arms", "STUDY_OPTIONS"]

# the study's own settings a user gives with `chanpos attack --study` (the rest are attack's)
STUDY_OPTIONS = ("study_arms",)


@dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """The study's profile, the arms to run and the attack settings given on the command
    line (they apply to every arm; an arm's own factor wins)."""

    profile: str = setting(help="The profile of the study and of every arm's attack.")
    study_arms: tuple[str, ...] = setting(help="The study arms to run (default: "
                                          "all of the profile's).", metavar="LIST")
    attack: dict[str, Any] = setting(help="Attack settings for every arm (the attack command's "
                                     "flags).", profile_only=True)

    def arm_overrides(self, name: str) -> dict[str, Any]:
        """The attack overrides of arm `name`: common, then the command line, then the arm."""
        common, arms = study_arms(self.profile)
        return {**common, **self.attack, **arms[name]}

    def arm_config(self, name: str) -> AttackConfig:
        """The attack configuration of arm `name`: its profile + `arm_overrides`."""
        return attack_config(self.profile, self.arm_overrides(name))


def study_arms(profile: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(common overrides, {arm name: arm overrides}) of the study for `profile`."""
    doc = read_profiles(__package__, "study_profiles.yaml")
    if profile not in doc:
        raise ChanposError(f"no attack study for profile {profile!r}; choose one of: "
                           f"{', '.join(sorted(doc))}")
    return dict(doc[profile].get("common") or {}), dict(doc[profile]["arms"])


def study_config(base: str | Mapping[str, Any] = "quick",
                 overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """A profile name (or saved settings) + `study_arms` + attack settings -> the study."""
    over = dict(overrides or {})
    if isinstance(base, str):
        values: dict[str, Any] = {"profile": base, "study_arms": None, "attack": {}}
    else:
        values = {k: v for k, v in base.items() if not k.startswith("__")}
        values["attack"] = dict(values.get("attack") or {})
        values["attack"].pop("download", None)  # a permission of the command line only
    arms = over.pop("study_arms", None)
    over.pop("profile", None)
    values["attack"].update(over)
    _, all_arms = study_arms(values["profile"])
    values["study_arms"] = list(arms or values["study_arms"] or all_arms)
    unknown = [c for c in values["study_arms"] if c not in all_arms]
    if unknown:
        raise ChanposError(f"unknown study arm {unknown[0]!r} in --study-arms; choose from: "
                           f"{', '.join(all_arms)}")
    values["attack"] = to_plain(values["attack"])
    cfg = from_plain(StudyConfig, values, where="study settings")
    for name in cfg.study_arms:  # every arm's settings are valid before anything runs
        cfg.arm_config(name)
    return cfg
