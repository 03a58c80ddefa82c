"""One name for every setting: each config field is one CLI flag spelled as the field, every
profile key is a field, every flag an error message names exists, values are typed."""

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

import chanpos
from chanpos.errors import ChanposError
from chanpos.experiments.attack.config import AttackConfig, RankConfig
from chanpos.experiments.audit.config import AuditConfig
from chanpos.experiments.reproduce import ReproduceConfig
from chanpos.experiments.settings import (
    flag_of,
    from_plain,
    info_of,
    parse_text,
    setting_fields,
)
from chanpos.experiments.table1.config import Table1Config
from chanpos.experiments.table2.config import ConsistencyConfig, Table2Config

COMMANDS = {"table1": Table1Config, "table2": Table2Config, "attack": AttackConfig,
            "rank": RankConfig, "consistency": ConsistencyConfig, "reproduce": ReproduceConfig,
            "audit": AuditConfig}
PROFILES = {"table1": Table1Config, "table2": Table2Config, "attack": AttackConfig,
            "audit": AuditConfig}
SRC = Path(chanpos.__file__).parent


def _options(command: str) -> set[str]:
    from typer.main import get_command

    from chanpos.cli import app

    params = get_command(app).commands[command].params
    return {opt for p in params for opt in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_setting_is_exactly_one_flag_spelled_as_its_field(command: str) -> None:
    cls = COMMANDS[command]
    options = _options(command)
    for f in setting_fields(cls):
        flag = flag_of(f.name)
        if info_of(f).profile_only:
            assert flag not in options, f"{f.name} is profile-only but has {flag}"
            continue
        assert flag in options, f"{command}: {f.name} has no {flag}"
    names = {flag_of(f.name) for f in setting_fields(cls)}
    extra = {o for o in options if o.startswith("--") and not o.startswith("--no-")} - names
    assert extra <= {"--out", "--resume", "--help", "--study", "--study-cells"}, extra
    # every dataclass field is a setting (nothing travels under another name)
    assert {f.name for f in fields(cls)} == {f.name for f in setting_fields(cls)}


@pytest.mark.parametrize("experiment", PROFILES)
def test_every_profile_key_is_a_field_and_every_profile_resolves(experiment: str) -> None:
    from chanpos.experiments.profiles import profile_documents

    names = {f.name for f in fields(PROFILES[experiment])}
    for profile, values in profile_documents(experiment).items():
        unknown = set(values) - names
        assert not unknown, f"{experiment} profile {profile}: {unknown}"
    text = (SRC / "experiments" / "profiles" / f"{experiment}.yaml").read_text()
    assert set(yaml.safe_load(text)) >= {"quick", "paper", "smoke"}


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


def test_no_rename_table_in_the_code() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    for name in ("_RENAMED", "rename=", '"lambda"', "cfg.num_workers", "'lambda'"):
        assert name not in text, name


def test_from_plain_checks_types_keys_and_completeness() -> None:
    cfg = from_plain(RankConfig, {"model": "resnet18", "image_size": [32, 64]}, where="here")
    assert cfg.image_size == (32, 64) and cfg.samples == 200
    cases = [({"model": "r", "samples": "many"}, "here: samples must be a whole number"),
             ({"model": "r", "samples": True}, "here: samples must be a whole number"),
             ({"model": "r", "image_size": [1, 2, 3]}, "image_size must have 2 values"),
             ({"model": "r", "bogus": 1}, "unknown setting 'bogus'"),
             ({}, "the setting 'model' is missing"),
             ({"model": None}, "model must be text, got null")]
    for data, message in cases:
        with pytest.raises(ChanposError, match=re.escape(message)):
            from_plain(RankConfig, data, where="here")
    with pytest.raises(ChanposError, match="the setting 'checkpoint' is missing"):
        from_plain(RankConfig, {"model": "r"}, where="config.yaml", complete=True)


def test_parse_text_reads_every_kind_of_setting() -> None:
    assert parse_text(Table1Config, "grid_sizes", "2, 3") == (2, 3)
    assert parse_text(Table1Config, "location_train_samples", "all") is None
    assert parse_text(Table1Config, "jobs", "auto") is None
    assert parse_text(Table1Config, "location_lr", "1e-3") == 0.001
    assert parse_text(AttackConfig, "image_size", "32,64") == (32, 64)
    assert parse_text(AttackConfig, "rank_where", "all") is None
    for name, text, message in (("grid_sizes", "a,b", "--grid-sizes: cannot read 'a,b'"),
                                ("width", "wide", "--width: cannot read 'wide'"),
                                ("grid_sizes", ",", "--grid-sizes is empty")):
        with pytest.raises(ChanposError, match=re.escape(message)):
            parse_text(Table1Config, name, text)


def test_help_lists_profile_values_and_panels() -> None:
    from typer.testing import CliRunner

    from chanpos.cli import app

    res = CliRunner().invoke(app, ["table1", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "(profiles: quick: 8; paper: 64)" in res.output
    assert "Training to a plateau" in res.output and "--max-epochs" in res.output
