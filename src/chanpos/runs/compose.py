"""Composition: a config from a profile (or a saved configuration) plus layers of overrides.

`resolve` is what every experiment's `config(base, overrides)` calls; `sub_config` is how a
composite run (`reproduce`, the attack study) configures each of its sub-runs: a sub-run that
already started keeps its saved settings (only runtime ones may change), a new one composes
the profile and the layers of overrides in order (a later layer wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .settings import CONFIG_VERSION, from_plain, info_of, setting_fields, validate_settings

__all__ = ["load_values", "resolve", "merge", "runtime_settings", "sub_config", "SAVED", "WHERE"]

# the keys under which saved settings carry their config version and the file they came from
SAVED = "__config_version__"
WHERE = "__config_file__"


def load_values(command: str, base: str | Mapping[str, Any]
                ) -> tuple[dict[str, Any], str, int | None]:
    """(values, where they came from, config version: None for a profile) of a profile name
    or saved settings (a mapping; its `SAVED` key, if any, is the folder's config version)."""
    if isinstance(base, str):
        from .profiles import load_profile

        values = load_profile(command, base)
        values.setdefault("profile", base)
        return values, f"profile {base!r} of {command}", None
    values = dict(base)
    version = values.pop(SAVED, None)
    where = str(values.pop(WHERE, "config.yaml"))
    if not values and version is None:  # a command without profiles: all from the command line
        return {}, "the command line", None
    return values, where, CONFIG_VERSION if version is None else int(version)


def resolve(cls: type, command: str, base: str | Mapping[str, Any],
            overrides: Mapping[str, Any] | None = None, *, complete: bool | None = None) -> Any:
    """`cls` from a profile (or saved settings) with `overrides` on top (every key given,
    None included: the CLI only passes what the user typed), every value checked against its
    type, range and choices. Saved settings must hold every field of their config version
    (`complete`), unless told otherwise (commands without profiles)."""
    values, where, version = load_values(command, base)
    complete = version is not None if complete is None else complete
    if version is not None:  # saved settings: a permission comes from the command line only
        for f in setting_fields(cls):
            if info_of(f).permission and f.name in values:
                values[f.name] = f.default
    values.update(overrides or {})
    cfg = from_plain(cls, values, where=where, complete=complete, version=version,
                     finite=False)
    validate_settings(cfg)
    return cfg


def merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """One mapping of overrides from `layers`, a later layer winning."""
    out: dict[str, Any] = {}
    for layer in layers:
        out.update(layer or {})
    return out


def runtime_settings(cfg: Any) -> dict[str, Any]:
    """The settings of `cfg` that may change on resume (how a run looks, not what it computes)."""
    return {f.name: getattr(cfg, f.name) for f in setting_fields(type(cfg))
            if info_of(f).runtime}


def sub_config(experiment: Any, folder: Path | None, profile: str,
               *layers: Mapping[str, Any] | None, runtime: Mapping[str, Any] | None = None
               ) -> Any:
    """The config of a sub-run of a composite run: its saved config.yaml (plus `runtime`) if
    `folder` already holds one, else `profile` composed with `layers`."""
    if folder is not None and (Path(folder) / "config.yaml").is_file():
        from .folders import RunFolder

        saved = RunFolder(Path(folder), owned=False).read_saved()
        return experiment.config(saved, dict(runtime or {}))
    over = merge(*layers)
    return experiment.config(over.pop("profile", profile), over)
