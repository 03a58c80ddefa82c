"""Settings: each experiment's frozen config dataclass is the one place a setting is defined.

A field declared with `setting(...)` carries its help text, valid range and choices. From the
field name alone come the command-line flag (`pretrain_samples` <-> `--pretrain-samples`),
the profile key, the `config.yaml` key and the results key; nothing renames it on the way.
The CLI (`chanpos.cli.derive`) builds each command's options from the fields,
`runs.compose.resolve` turns a profile (or a saved configuration) plus command-line values
into a validated config, and every message about a value names the flag the user can change
(or, for a field marked `profile_only`, the profile key). A setting added in a later config
version declares `since` (and `legacy`, the value that reproduces what older folders ran), so
a folder saved before it existed resumes exactly.

This module imports no torch: `chanpos <command> --help` reads the fields.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, dataclass, fields, is_dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..errors import ChanposError

__all__ = [
    "SettingInfo",
    "setting",
    "info_of",
    "flag_of",
    "setting_fields",
    "from_plain",
    "parse_text",
    "validate_settings",
    "where_of",
    "CONFIG_VERSION",
]

# The version of the settings layout written into every config.yaml (`config_version`). A
# setting added later declares `since=<the new version>`; folders of an older version resume
# with its `legacy` value.
CONFIG_VERSION = 2
# the largest whole number a setting or a recorded row may hold (a 64-bit integer)
MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class SettingInfo:
    """What the CLI, validation and `--help` know about one setting."""

    help: str
    minimum: float | None = None
    maximum: float | None = None
    strict: bool = False             # the minimum itself is not allowed (e.g. lr > 0)
    choices: tuple[Any, ...] | Callable[[], Iterable[Any]] | None = None
    what: str | None = None          # the noun of an unknown choice ("padding", "source")
    none_word: str | None = None     # the command-line word for None ("all", "auto")
    runtime: bool = False            # how a run looks, not what it computes: may change on resume
    permission: bool = False         # a permission the user gives on the command line each time
                                     # (--download): never taken from a saved configuration
    profile_only: bool = False       # no flag: set in a profile (listed in `--help`'s epilog)
    metavar: str | None = None
    since: int = 1                   # the config version that introduced it
    legacy: Any = None               # its value for folders saved before `since` (None: the
                                     # field's default)


def setting(default: Any = MISSING, *, help: str, **info: Any) -> Any:  # noqa: A002
    """A dataclass field with its `SettingInfo` (help, range, choices, ...) as metadata."""
    meta = {"chanpos": SettingInfo(help=help, **info)}
    if default is MISSING:
        return _field(meta)
    return _field(meta, default)


def _field(meta: dict[str, Any], default: Any = MISSING) -> Any:
    from dataclasses import field

    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def info_of(f: Field) -> SettingInfo | None:
    """The SettingInfo of a dataclass field (None for fields that are not settings)."""
    return f.metadata.get("chanpos")


def flag_of(name: str) -> str:
    """The command-line flag of setting `name`: `pretrain_samples` -> `--pretrain-samples`."""
    return "--" + name.replace("_", "-")


def setting_fields(cls: type) -> list[Field]:
    """The fields of `cls` declared with `setting()`, in declaration order."""
    return [f for f in fields(cls) if info_of(f) is not None]


def where_of(cls: type, name: str) -> str:
    """How messages name setting `name`: its flag, or its profile key if it has no flag."""
    f = next((f for f in fields(cls) if f.name == name), None)
    info = info_of(f) if f is not None else None
    if info is not None and info.profile_only:
        return f"the profile key {name!r}"
    return flag_of(name)


# ---- types -------------------------------------------------------------------------------

def _optional(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether None is allowed)."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) < len(get_args(hint)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True  # noqa: UP007
    return hint, False


def _type_word(hint: Any) -> str:
    return {int: "a whole number", float: "a number", str: "text", bool: "true or false"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """`value` (plain YAML/JSON data) as type `hint`, or a one-line ChanposError."""
    if hint is Any:
        return value
    inner, optional = _optional(hint)
    if value is None:
        if optional:
            return None
        raise ChanposError(f"{where} must be {_type_word(inner)}, got null")
    hint = inner
    origin = get_origin(hint)
    if is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ChanposError(f"{where} must be a mapping of {hint.__name__} fields, got "
                               f"{type(value).__name__}")
        return from_plain(hint, value, where=where)
    if origin in (Union, types.UnionType):  # e.g. int | str: the first alternative that fits
        for arg in get_args(hint):
            try:
                return _coerce(arg, value, where)
            except ChanposError:
                continue
        raise ChanposError(f"{where} has the wrong type ({type(value).__name__})")
    if origin is tuple or origin is list:
        return _coerce_sequence(hint, value, where)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ChanposError(f"{where} must be a mapping, got {type(value).__name__}")
        args = get_args(hint)
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(vt, v, f"{where}.{k}") for k, v in value.items()}
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > MAX_INT:
                raise ChanposError(f"{where} must be a whole number of at most {MAX_INT}, got "
                                   f"a number of {len(str(abs(value)))} digits")
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if not math.isfinite(number) and _finite_only:
                got = "a number too large for a float" if isinstance(value, int) else repr(value)
                raise ChanposError(f"{where} must be a finite number, got {got}")
            return number
    elif hint is str:
        if isinstance(value, str):
            return value
    elif isinstance(hint, type):
        if isinstance(value, hint):
            return value
    else:
        return value
    raise ChanposError(f"{where} must be {_type_word(hint)}, got {value!r}")


def _coerce_sequence(hint: Any, value: Any, where: str) -> Any:
    """A list or tuple setting: tuple[X, ...], tuple[X, Y] (fixed length) or list[X]."""
    origin, args = get_origin(hint), get_args(hint)
    if not isinstance(value, (list, tuple)):
        raise ChanposError(f"{where} must be a list, got {value!r}")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        items = [_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    elif origin is tuple and args:
        if len(value) != len(args):
            raise ChanposError(f"{where} must have {len(args)} values, got {len(value)}")
        items = [_coerce(a, v, f"{where}[{i}]")
                 for i, (a, v) in enumerate(zip(args, value, strict=True))]
    else:
        items = [_coerce(args[0] if args else Any, v, f"{where}[{i}]")
                 for i, v in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _added_later(f: Field, version: int | None) -> bool:
    info = info_of(f)
    return version is not None and info is not None and info.since > version


def _legacy(f: Field) -> Any:
    info = info_of(f)
    if info is not None and info.legacy is not None:
        return info.legacy
    if f.default is not MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def from_plain(cls: type, data: Mapping[str, Any], *, where: str = "settings",
               complete: bool = False, version: int | None = None,
               finite: bool | None = None) -> Any:
    """The frozen dataclass `cls` from plain data, every value checked against its type.

    Unknown keys, values of the wrong type and (with `complete`, for saved configurations)
    missing keys are one-line `ChanposError`s naming `where` and the key. With the saved
    data's config `version`, a setting introduced after it takes its `legacy` value. Every
    number must be finite (rows, results) unless `finite` is False (settings, whose ranges
    `validate_settings` checks with a message naming the flag); nested dataclasses follow
    their outer call.
    """
    global _finite_only
    outer = _finite_only
    _finite_only = outer if finite is None else finite
    try:
        return _from_plain(cls, data, where, complete, version)
    finally:
        _finite_only = outer


_finite_only = True  # whether the `from_plain` call in progress refuses NaN and infinities


def _from_plain(cls: type, data: Mapping[str, Any], where: str, complete: bool,
                version: int | None) -> Any:
    if not isinstance(data, Mapping):
        raise ChanposError(f"{where} must be a mapping of settings, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(set(map(str, data)) - set(known))
    if unknown:
        raise ChanposError(f"{where}: unknown setting {unknown[0]!r} (written by another "
                           "version of chanpos, or a typo?)")
    data = dict(data)
    for name, f in known.items():
        if name not in data and _added_later(f, version):
            data[name] = _legacy(f)
    missing = [n for n, f in known.items() if n not in data and (
        complete or (f.default is MISSING and f.default_factory is MISSING))]
    if missing:
        if where == "the command line":
            raise ChanposError(f"{flag_of(missing[0])} is required")
        raise ChanposError(f"{where}: the setting {missing[0]!r} is missing")
    values = {k: _coerce(hints[k], v, f"{where}: {k}") for k, v in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ChanposError(f"{where}: {exc}") from None


# ---- command-line text -------------------------------------------------------------------

def _scalar(hint: Any, text: str, flag: str) -> Any:
    text = text.strip()
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise ChanposError(f"{flag}: cannot read {text!r} as a whole number") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise ChanposError(f"{flag}: cannot read {text!r} as a number") from None
    return text


def parse_text(cls: type, name: str, text: str) -> Any:
    """The value of setting `name` from its command-line text (comma lists for tuples)."""
    f = next(f for f in fields(cls) if f.name == name)
    info = info_of(f)
    flag = flag_of(name)
    hint, _ = _optional(get_type_hints(cls)[name])
    if info is not None and info.none_word and text.strip().lower() == info.none_word:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):  # int | str, e.g. devices
        return text.strip()
    if origin is tuple:
        args = get_args(hint)
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise ChanposError(f"{flag} is empty; give comma-separated values")
        if len(args) == 2 and args[1] is Ellipsis:
            try:
                return tuple(_scalar(args[0], t, flag) for t in items)
            except ChanposError:
                raise ChanposError(f"{flag}: cannot read {text!r} as a comma list of "
                                   f"{_type_word(args[0])}s") from None
        if len(items) != len(args):
            raise ChanposError(f"{flag} takes {len(args)} comma-separated values "
                               f"({info.metavar if info and info.metavar else 'a,b'}), got "
                               f"{text!r}")
        return tuple(_scalar(a, t, flag) for a, t in zip(args, items, strict=True))
    return _scalar(hint, text, flag)


# ---- ranges and choices ------------------------------------------------------------------

def _choices(info: SettingInfo) -> tuple[Any, ...] | None:
    if info.choices is None:
        return None
    return tuple(info.choices() if callable(info.choices) else info.choices)


def _validate_value(cls: type, name: str, info: SettingInfo, value: Any) -> None:
    where = where_of(cls, name)
    choices = _choices(info)
    if choices is not None and value not in choices:
        raise ChanposError(f"unknown {info.what or name.replace('_', ' ')} {value!r} in {where}; "
                           f"choose from: {', '.join(map(str, choices))}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if info.minimum is None and info.maximum is None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ChanposError(f"{where} must be a finite number, got {value!r}")
        return
    if isinstance(value, int) and isinstance(info.minimum, int) and not info.strict:
        if value < info.minimum or (info.maximum is not None and value > info.maximum):
            bound = (f"from {info.minimum} to {int(info.maximum)}" if info.maximum is not None
                     else f">= {info.minimum}")
            raise ChanposError(f"{where} must be a whole number {bound}, got {value!r}")
        return
    lo = info.minimum if info.minimum is not None else -math.inf
    ok = (math.isfinite(value) and (value > lo if info.strict else value >= lo)
          and (info.maximum is None or value <= info.maximum))
    if not ok:
        bound = f"{'>' if info.strict else '>='} {lo:g}" + (
            f" and <= {info.maximum:g}" if info.maximum is not None else "")
        raise ChanposError(f"{where} must be a finite number {bound}, got {value!r}")


def validate_settings(cfg: Any) -> None:
    """Every setting of `cfg` within its declared range and choices (lists: every element)."""
    cls = type(cfg)
    for f in setting_fields(cls):
        info = info_of(f)
        value = getattr(cfg, f.name)
        if value is None:
            continue
        for v in (value if isinstance(value, tuple) else (value,)):
            _validate_value(cls, f.name, info, v)
