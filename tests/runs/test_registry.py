"""A new experiment is one folder plus one registry entry: a tiny experiment written here is
found by `--help`, runs, resumes from an interrupted folder and is run by `reproduce`."""

import json
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chanpos.runs.registry import Entry, entries, register, unregister

FILES = {
    "__init__.py": '"""A tiny experiment for the registry test."""\n',
    "config.py": '''
        from dataclasses import dataclass

        from chanpos.runs.compose import resolve
        from chanpos.runs.settings import setting
        from chanpos.runs.shared import RunSettings, finish_run_settings


        @dataclass(frozen=True, kw_only=True)
        class TinyConfig(RunSettings):
            """Settings of the tiny experiment."""

            seeds: tuple[int, ...] = setting(help="Seeds.", minimum=0, metavar="LIST")
            scale: int = setting(help="Each seed's value is seed x scale.", minimum=1)


        def tiny_config(base="quick", overrides=None):
            cfg = resolve(TinyConfig, "tiny", base, overrides)
            return finish_run_settings(cfg, len(cfg.seeds))
    ''',
    "rows.py": '''
        from dataclasses import dataclass


        @dataclass(frozen=True)
        class TinyRow:
            seed: int
            value: float

            @property
            def key(self):
                return f"seed{self.seed}"
    ''',
    "experiment.py": '''
        from chanpos.runs.cells import run_cells
        from chanpos.runs.lifecycle import Experiment, rows_run
        from chanpos.runs.reporting import Report, heading
        from chanpos.verdicts import Claim, judge, verdict_table

        from .config import tiny_config
        from .rows import TinyRow

        CLAIMS = {"tiny.positive": Claim("tiny.positive", "values are positive", "none",
                                         "units", 1.0, "one unit")}


        def cell(seed, cfg, folder):
            return TinyRow(seed, float(seed * cfg.scale))


        def run_rows(cfg, data, folder, log):
            return run_cells(cfg, list(cfg.seeds), [f"seed{s}" for s in cfg.seeds], cell,
                             (folder,), folder=folder, row_type=TinyRow,
                             key_of=lambda r: r.key, describe=lambda r: str(r.value), log=log)


        def verdicts(rows, cfg):
            return [judge(CLAIMS["tiny.positive"], [r.value for r in rows], "seed")]


        def results(rows, cfg, judged, seconds):
            return {"experiment": "tiny", "rows": rows,
                    "verdicts": [v.as_dict() for v in judged]}


        def report(rows, cfg, judged, seconds):
            return Report([heading(1, "Tiny"), "", *verdict_table(judged, CLAIMS)])


        EXPERIMENT = Experiment(name="tiny", config=tiny_config, prepare=lambda cfg: None,
                                run=rows_run(run_rows, verdicts, results, report,
                                             lambda rows: []),
                                row=TinyRow, claims=CLAIMS)
    ''',
    "profiles.yaml": '''
        quick: {seeds: [1, 2, 3], scale: 2, jobs: 1}
        paper: {seeds: [1, 2, 3], scale: 2, jobs: 1}
        smoke: {seeds: [1, 2], scale: 1, jobs: 1}
    ''',
}


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "pkgs"
    package = root / "tiny_experiment"
    package.mkdir(parents=True)
    for name, text in FILES.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(root))
    e = register(Entry("tiny", "tiny_experiment", "TinyConfig", reproduce=True,
                       help="A tiny experiment."))
    yield e
    unregister("tiny")
    for mod in [m for m in sys.modules if m.startswith("tiny_experiment")]:
        del sys.modules[mod]


def _invoke(args: list[str]):
    from chanpos.cli.app import build_app

    return CliRunner().invoke(build_app(), args, env={"COLUMNS": "200"})


def _values(folder: Path) -> list[float]:
    return [r["value"] for r in json.loads((folder / "results.json").read_text())["rows"]]


def test_a_registered_experiment_is_in_help_runs_and_resumes(tiny, tmp_path: Path) -> None:
    assert tiny in entries()
    res = _invoke(["--help"])
    assert res.exit_code == 0 and "tiny" in res.output and "A tiny experiment." in res.output
    res = _invoke(["tiny", "--help"])
    assert "--scale" in res.output and "(profiles: quick: 2; paper: 2)" in res.output
    res = _invoke(["tiny", "--out", str(tmp_path / "runs"), "--no-progress"])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "runs").iterdir()
    assert _values(folder) == [2.0, 4.0, 6.0]
    # interrupted after its first row: the resume finishes the other cells
    (folder / "results.json").unlink()
    lines = (folder / "rows.partial.jsonl").read_text().splitlines()
    (folder / "rows.partial.jsonl").write_text(lines[0] + "\n")
    res = _invoke(["tiny", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "[1/3] seed1: finished earlier" in res.output
    assert _values(folder) == [2.0, 4.0, 6.0]
    # the resume hint names the command the registry gives it
    from chanpos.runs.lifecycle import resume_commands

    assert resume_commands()["tiny"] == "tiny"


def test_reproduce_runs_a_registered_experiment(tiny, tmp_path: Path) -> None:
    res = _invoke(["reproduce", "--experiments", "tiny", "--profile", "smoke",
                   "--out", str(tmp_path / "runs"), "--no-progress"])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "runs").iterdir()
    doc = json.loads((folder / "results.json").read_text())
    assert [v["claim"] for v in doc["verdicts"]] == ["tiny.positive"]
    assert _values(folder / "tiny") == [1.0, 2.0]
    report = (folder / "report.md").read_text()
    assert "## Tiny" in report and "values are positive" in report
