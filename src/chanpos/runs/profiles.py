"""Profiles: a YAML file of settings per experiment, in its own package (`profiles.yaml`:
`quick` for CPUs, `paper` for GPUs, `smoke` for a one-minute check).

Read with a strict safe loader: a key given twice in one mapping (which plain YAML silently
resolves to the last one, leaving the first block dead) is an error naming the file and line.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..errors import ChanposError
from .registry import entry

__all__ = ["load_profile", "list_profiles", "profile_documents", "strict_yaml", "read_profiles"]


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses duplicate mapping keys."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def strict_yaml(text: str, where: str) -> Any:
    """`text` parsed as safe YAML with duplicate keys refused; errors name `where`."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ChanposError(f"{where}{line}: {problem}") from None


@cache
def read_profiles(package: str, name: str) -> dict[str, Any]:
    """The profile file `name` of experiment package `package` as {profile: settings}."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    doc = strict_yaml(text, f"{package}/{name}")
    if not isinstance(doc, dict):
        raise ChanposError(f"{package}/{name} is not a mapping of profiles")
    return doc


def _all(experiment: str) -> dict[str, Any]:
    e = entry(experiment)
    return dict(read_profiles(e.package, e.profiles)) if e.profiles else {}


def profile_documents(experiment: str) -> dict[str, Any]:
    """Every profile of `experiment` as {name: settings} (for `--help`)."""
    try:
        return _all(experiment)
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
            f"unknown profile {profile!r} for {experiment}; choose one of: "
            f"{', '.join(sorted(profiles))}")
    values = profiles[profile]
    if not isinstance(values, dict):
        raise ChanposError(f"profile {profile!r} of {experiment} is not a mapping of settings")
    return dict(values)
