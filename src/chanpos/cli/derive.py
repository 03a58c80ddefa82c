"""Command-line options derived from an experiment's config dataclass.

Every field declared with `settings.setting()` becomes one option spelled as the field
(`pretrain_samples` -> `--pretrain-samples`, booleans as `--x/--no-x`), with the field's help
text, the quick and paper profile values, and a metavar from its type. Nothing is renamed:
the option's parameter name is the field name, so the values the command receives are
already keyed as the config expects them. Fields marked `profile_only` get no option and are
listed in the command's epilog. Torch-free: `--help` only reads dataclass fields and YAML.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import Field, is_dataclass
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import typer

from ..runs.settings import flag_of, info_of, parse_text, setting_fields

__all__ = ["option_parameters", "overrides_from", "profile_only_epilog", "panel_of"]


def _kind(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether it is a bool)."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else hint
    return hint, hint is bool


def _metavar(hint: Any, info: Any) -> str:
    if info.metavar:
        return info.metavar
    if get_origin(hint) is tuple:
        return "LIST"
    return {int: "INT", float: "FLOAT"}.get(hint, "TEXT")


def _profile_values(command: str | None, name: str) -> str:
    """' (quick: 16; paper: 64)' from the bundled profiles (empty when none sets `name`)."""
    if not command:
        return ""
    from ..runs.profiles import profile_documents

    parts = []
    for profile, values in profile_documents(command).items():
        if profile in ("quick", "paper") and isinstance(values, dict) and name in values:
            v = values[name]
            text = ",".join(map(str, v)) if isinstance(v, list) else "none" if v is None else v
            parts.append(f"{profile}: {text}")
    return f" (profiles: {'; '.join(parts)})" if parts else ""


def _choices_text(info: Any) -> str:
    """' One of: a, b.' for a fixed set of choices not already listed in the help text."""
    if not isinstance(info.choices, tuple) or all(str(c) in info.help for c in info.choices):
        return ""
    return f" One of: {', '.join(map(str, info.choices))}."


def _declaring(cls: type, name: str) -> type:
    for klass in cls.__mro__:
        if is_dataclass(klass) and name in klass.__dict__.get("__annotations__", {}):
            return klass
    return cls


def panel_of(cls: type, name: str) -> str:
    """The help panel of a field: its declaring dataclass's `PANEL` (the config's own
    settings: 'Settings')."""
    return getattr(_declaring(cls, name), "PANEL", "Settings") if _declaring(cls, name) is not \
        cls else "Settings"


def option_parameters(cls: type, command: str | None, *, skip: tuple[str, ...] = ()
                      ) -> list[inspect.Parameter]:
    """One keyword-only parameter (default None = keep the profile's value) per setting."""
    hints = get_type_hints(cls)
    params = []
    own_first = sorted(setting_fields(cls), key=lambda f: _declaring(cls, f.name) is not cls)
    for f in own_first:
        info = info_of(f)
        if info.profile_only or f.name in skip:
            continue
        hint, is_bool = _kind(hints[f.name])
        text = info.help + _choices_text(info) + _profile_values(command, f.name)
        dash = flag_of(f.name)
        if is_bool:
            option = typer.Option(f"{dash}/--no-{dash[2:]}", help=text, show_default=False,
                                  rich_help_panel=panel_of(cls, f.name))
            annotation: Any = Annotated[bool | None, option]
        else:
            option = typer.Option(dash, help=text, show_default=False,
                                  metavar=_metavar(hint, info),
                                  rich_help_panel=panel_of(cls, f.name))
            annotation = Annotated[str | None, option]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=annotation))
    return params


def overrides_from(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The command's option values -> {field: typed value} for every option given."""
    names = {f.name for f in setting_fields(cls)}
    out = {}
    for name, value in values.items():
        if name not in names or value is None:
            continue
        out[name] = parse_text(cls, name, value) if isinstance(value, str) else value
    return out


def profile_only_epilog(cls: type) -> str:
    """The epilog naming the settings a profile sets that have no flag (if any)."""
    fields: list[Field] = [f for f in setting_fields(cls) if info_of(f).profile_only]
    if not fields:
        return ("Every option defaults to the chosen profile's value (the experiment "
                "package's profiles.yaml); the resolved settings are saved as config.yaml in "
                "the run folder.")
    names = ", ".join(f"{f.name} ({info_of(f).help.rstrip('.')})" for f in fields)
    return (f"Set only in a profile (no flag): {names}. Every option defaults to the chosen "
            "profile's value; the resolved settings are saved as config.yaml in the run folder.")
