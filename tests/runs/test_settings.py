"""One name for every setting: each config field is one CLI flag spelled as the field, every
profile key is a field, every profile resolves, every flag an error message names exists,
values are typed, and a folder saved before a setting existed resumes with its legacy value."""

import ast
import re
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import torch

import chanpos
from chanpos.errors import ChanposError
from chanpos.runs.compose import SAVED, resolve
from chanpos.runs.profiles import profile_documents, strict_yaml
from chanpos.runs.registry import entries, entry
from chanpos.runs.settings import (
    CONFIG_VERSION,
    flag_of,
    from_plain,
    info_of,
    parse_text,
    setting,
    setting_fields,
)

SRC = Path(chanpos.__file__).parent
COMMANDS = [e.name for e in entries() if e.variant_of is None]
WITH_PROFILES = [e.name for e in entries() if e.profiles]


def _options(command: str) -> set[str]:
    from typer.main import get_command

    from chanpos.cli import app

    params = get_command(app).commands[command].params
    return {opt for p in params for opt in (*p.opts, *p.secondary_opts)}


def _variant_flags(command: str) -> set[str]:
    out = set()
    for v in entries():
        if v.variant_of == command:
            own = {f.name for f in setting_fields(entry(command).config_class())}
            out |= {f"--{v.flag}"} | {flag_of(f.name) for f in setting_fields(v.config_class())
                                     if f.name not in own and not info_of(f).profile_only}
    return out


def test_the_command_line_is_the_registry() -> None:
    from typer.main import get_command

    from chanpos.cli import app

    assert set(get_command(app).commands) == set(COMMANDS)
    assert {"table1", "table2", "attack", "audit", "rank", "consistency", "reproduce"} <= set(
        COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_setting_is_exactly_one_flag_spelled_as_its_field(command: str) -> None:
    cls = entry(command).config_class()
    options = _options(command)
    for f in setting_fields(cls):
        flag = flag_of(f.name)
        if info_of(f).profile_only:
            assert flag not in options, f"{f.name} is profile-only but has {flag}"
            continue
        assert flag in options, f"{command}: {f.name} has no {flag}"
    names = {flag_of(f.name) for f in setting_fields(cls)}
    extra = {o for o in options if o.startswith("--") and not o.startswith("--no-")} - names
    assert extra <= {"--out", "--resume", "--help"} | _variant_flags(command), extra
    # every dataclass field is a setting (nothing travels under another name)
    assert {f.name for f in fields(cls)} == {f.name for f in setting_fields(cls)}


def _valid_overrides(name: str, profile: str, tmp_path: Path) -> dict:
    """What a profile needs from the command line to be valid here (a data root; the paper
    attack's pretrained backbone needs --download; the paper audit a --checkpoint)."""
    over = {"data_root": str(tmp_path)}
    if (name, profile) == ("attack", "paper"):
        over["download"] = True
    if (name, profile) == ("audit", "paper"):
        weights = tmp_path / "weights.pt"
        torch.save({}, weights)
        over["checkpoint"] = str(weights)
    return over


@pytest.mark.parametrize("name", WITH_PROFILES)
def test_every_profile_key_is_a_field_and_every_profile_resolves(name: str,
                                                                 tmp_path: Path) -> None:
    e = entry(name)
    cls = e.config_class()
    docs = profile_documents(name)
    assert {"quick", "paper", "smoke"} <= set(docs)
    if e.variant_of is not None:  # the study: its arms' attack settings are attack fields
        attack = {f.name for f in fields(entry(e.variant_of).config_class())}
        for profile, doc in docs.items():
            for arm, values in {"common": doc.get("common") or {}, **doc["arms"]}.items():
                assert set(values) <= attack, f"{profile} {arm}: {set(values) - attack}"
        return
    names = {f.name for f in fields(cls)}
    for profile, values in docs.items():
        unknown = set(values) - names
        assert not unknown, f"{name} profile {profile}: {unknown}"
        cfg = e.experiment().config(profile, _valid_overrides(name, profile, tmp_path))
        assert isinstance(cfg, cls) and cfg.profile == profile


def test_reproduce_resolves_every_profile(tmp_path: Path) -> None:
    from chanpos.experiments.reproduce.config import reproduce_config

    for profile in ("quick", "smoke", "paper"):
        cfg = reproduce_config(profile, {"data_root": str(tmp_path)})
        assert cfg.profile == profile and set(cfg.experiments) >= {"table1", "audit"}


def test_a_duplicate_key_in_any_yaml_is_one_line_naming_its_line() -> None:
    text = "quick:\n  width: 8\npaper:\n  width: 64\npaper:\n  width: 16\n"
    with pytest.raises(ChanposError, match=r"here line 5: duplicate key 'paper' \(first at "
                                           r"line 3\)"):
        strict_yaml(text, "here")
    # nested mappings too
    with pytest.raises(ChanposError, match="duplicate key 'width'"):
        strict_yaml("quick:\n  width: 8\n  width: 9\n", "here")
    assert strict_yaml("quick: {width: 8}\n", "here") == {"quick": {"width": 8}}


def _message_flags() -> set[tuple[str, str]]:
    """(file, flag) for every --flag written in a string literal of the package."""
    out = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", node.value):
                    out.add((str(path.relative_to(SRC)), flag))
    return out


def test_every_flag_named_in_any_message_exists() -> None:
    known = set().union(*(_options(c) for c in COMMANDS))
    # flags of other programs that messages and help quote
    known |= {"--help", "--nproc-per-node", "--nnodes", "--no-progress"}
    missing = sorted(f"{where}: {flag}" for where, flag in _message_flags()
                     if flag not in known and not flag.startswith(("--x", "--no-")))
    assert not missing, missing


def test_from_plain_checks_types_keys_and_completeness() -> None:
    cls = entry("rank").config_class()
    cfg = from_plain(cls, {"model": "resnet18", "image_size": [32, 64]}, where="here")
    assert cfg.image_size == (32, 64) and cfg.samples == 200
    cases = [({"model": "r", "samples": "many"}, "here: samples must be a whole number"),
             ({"model": "r", "samples": True}, "here: samples must be a whole number"),
             ({"model": "r", "image_size": [1, 2, 3]}, "image_size must have 2 values"),
             ({"model": "r", "bogus": 1}, "unknown setting 'bogus'"),
             ({"model": "r", "top": None}, "top must be a whole number, got null")]
    for data, message in cases:
        with pytest.raises(ChanposError, match=re.escape(message)):
            from_plain(cls, data, where="here")
    with pytest.raises(ChanposError, match="the setting 'mean' is missing"):
        from_plain(cls, {"model": "r"}, where="config.yaml", complete=True)


@dataclass(frozen=True, kw_only=True)
class _Later:
    """A config whose `extra` setting arrived in config version 3 (older folders ran it at 7)."""

    width: int = setting(help="w")
    extra: int = setting(8, help="e", since=3, legacy=7)


def test_a_setting_added_later_takes_its_legacy_value_in_older_folders() -> None:
    old = {"width": 4, SAVED: 2}
    assert resolve(_Later, "x", old).extra == 7
    assert resolve(_Later, "x", {"width": 4, SAVED: 3, "extra": 9}).extra == 9
    # a folder of the version that has the setting must hold it: it is damaged otherwise
    with pytest.raises(ChanposError, match="the setting 'extra' is missing"):
        resolve(_Later, "x", {"width": 4, SAVED: 3})
    # saved settings without a version stamp are read as this release's (CONFIG_VERSION)
    assert resolve(_Later, "x", {"width": 4}).extra == (7 if CONFIG_VERSION < 3 else 8)


def test_parse_text_reads_every_kind_of_setting() -> None:
    t1, attack = entry("table1").config_class(), entry("attack").config_class()
    assert parse_text(t1, "grid_sizes", "2, 3") == (2, 3)
    assert parse_text(t1, "location_train_samples", "all") is None
    assert parse_text(t1, "jobs", "auto") is None
    assert parse_text(t1, "location_lr", "1e-3") == 0.001
    assert parse_text(attack, "image_size", "32,64") == (32, 64)
    assert parse_text(attack, "rank_where", "all") is None
    for name, text, message in (("grid_sizes", "a,b", "--grid-sizes: cannot read 'a,b'"),
                                ("width", "wide", "--width: cannot read 'wide'"),
                                ("grid_sizes", ",", "--grid-sizes is empty")):
        with pytest.raises(ChanposError, match=re.escape(message)):
            parse_text(t1, name, text)


def test_help_lists_profile_values_and_panels() -> None:
    from typer.testing import CliRunner

    from chanpos.cli import app

    res = CliRunner().invoke(app, ["table1", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "(profiles: quick: 8; paper: 64)" in res.output
    assert "Training to a plateau" in res.output and "--max-epochs" in res.output
