"""Cells in parallel CPU processes: how many, errors, and results equal to a serial run."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from chanpos.cli import app
from chanpos.errors import ChanposError
from chanpos.runs.parallel import cell_threads, cpu_cores, map_runs, resolve_jobs
from chanpos.training import TrainerOptions

CPU = TrainerOptions(accelerator="cpu")


def _power(item: int, exponent: int) -> tuple[int, int]:
    return item**exponent, torch.get_num_threads()


def test_resolve_jobs() -> None:
    assert resolve_jobs("auto", CPU, 100) == cpu_cores()
    assert resolve_jobs("auto", CPU, 1) == 1
    assert resolve_jobs(3, CPU, 2) == 2  # never more processes than cells
    assert resolve_jobs("2", CPU, 5) == 2
    assert resolve_jobs("auto", TrainerOptions(accelerator="cpu", strategy="ddp"), 9) == 1
    assert resolve_jobs("auto", TrainerOptions(accelerator="gpu"), 9) == 1
    with pytest.raises(ChanposError, match="--jobs 1"):
        resolve_jobs(2, TrainerOptions(accelerator="cuda"), 9)
    with pytest.raises(ChanposError, match=">= 1"):
        resolve_jobs(0, CPU, 9)
    with pytest.raises(ChanposError, match="positive number or auto"):
        resolve_jobs("many", CPU, 9)


def test_map_runs_in_processes_equals_serial_and_fixes_threads() -> None:
    items = [1, 2, 3, 4, 5]
    serial = dict(map_runs(_power, items, (3,), 1, 1))
    parallel = dict(map_runs(_power, items, (3,), 2, 1))
    assert {i: v[0] for i, v in parallel.items()} == {i: v[0] for i, v in serial.items()}
    assert {v[0] for v in serial.values()} == {1, 8, 27, 64, 125}
    # the thread count is the one given, whether runs go in this process or in workers, and
    # however few items remain
    assert {v[1] for v in serial.values()} == {v[1] for v in parallel.values()} == {1}
    assert {v[1] for v in dict(map_runs(_power, [1], (3,), 2, 1)).values()} == {1}


def test_cell_threads_split_the_cores() -> None:
    assert cell_threads(1) == cpu_cores() and cell_threads(cpu_cores() + 5) == 1


def test_map_runs_reraises_a_worker_error() -> None:
    with pytest.raises(TypeError):
        list(map_runs(_power, [1, "x"], (2,), 2, 1))


def test_table1_cells_in_two_processes_match_one_process(tmp_path: Path) -> None:
    """Each cell seeds itself: the same rows whether cells run side by side or in turn."""
    tiny = ["--grid-sizes", "2", "--paddings", "zeros,circular", "--tasks", "location",
            "--models", "gapnet", "--location-train-samples", "48", "--val-samples", "8",
            "--test-samples", "20", "--max-epochs", "1", "--seeds", "0", "--width", "4",
            "--bn-batches", "1", "--no-progress", "--accelerator", "cpu"]
    docs = []
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        res = CliRunner().invoke(app, ["table1", *tiny, "--jobs", jobs, "--out", str(out)])
        assert res.exit_code == 0, res.output
        (folder,) = out.iterdir()
        docs.append(json.loads((folder / "results.json").read_text()))
        assert f"({jobs} at a time" in (folder / "report.md").read_text()
    one, two = ([(r["padding"], r["accuracy_pct"]) for r in d["rows"]] for d in docs)
    assert [p for p, _ in one] == ["zeros", "circular"]  # table order, not finishing order
    assert one == two


def test_bad_jobs_is_one_line_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["table2", "--jobs", "0", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == ["error: --jobs must be a whole number >= 1, got 0"]
    assert not list(tmp_path.iterdir())
