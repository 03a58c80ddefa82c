"""Profiles: YAML files of settings per experiment (`quick` for CPUs, `paper` for GPUs)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from ..errors import ChanposError

__all__ = ["load_profile", "list_profiles", "parse_list"]


def _all(experiment: str) -> dict[str, Any]:
    text = resources.files("chanpos.experiments").joinpath(f"profiles/{experiment}.yaml")
    return yaml.safe_load(text.read_text(encoding="utf-8"))


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


def parse_list(text: str | None, kind: type = str, *, option: str = "") -> list[Any] | None:
    """'a,b,c' -> ['a', 'b', 'c'] converted with `kind`; None stays None (use the profile)."""
    if text is None:
        return None
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ChanposError(f"{option or 'list option'} is empty; give comma-separated values")
    try:
        return [kind(t) for t in items]
    except ValueError as exc:
        raise ChanposError(f"{option or 'list option'}: cannot read {text!r} ({exc})") from exc
