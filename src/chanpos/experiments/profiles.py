"""Profiles: YAML files of settings per experiment (`quick` for CPUs, `paper` for GPUs)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..errors import ChanposError

__all__ = ["load_profile", "list_profiles", "profile_documents"]


@cache
def _read(experiment: str) -> str:
    path = resources.files("chanpos.experiments").joinpath(f"profiles/{experiment}.yaml")
    return path.read_text(encoding="utf-8")


def _all(experiment: str) -> dict[str, Any]:
    return yaml.safe_load(_read(experiment))


def profile_documents(experiment: str) -> dict[str, Any]:
    """Every profile of `experiment` as {name: settings} (for `--help`)."""
    try:
        return dict(_all(experiment))
    except (FileNotFoundError, OSError):
        return {}


def list_profiles(experiment: str) -> list[str]:
    """Profile names defined for `experiment`."""
    return sorted(_all(experiment))


def load_profile(experiment: str, profile: str) -> dict[str, Any]:
    """The settings of `profile` for `experiment`; unknown profiles are a user error."""
    profiles = _all(experiment)
    if profile not in profiles:
        raise ChanposError(
            f"unknown profile {profile!r} for {experiment}; choose one of: {', '.join(sorted(profiles))}"
        )
    return dict(profiles[profile])
