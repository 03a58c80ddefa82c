"""benchmarks/plateau_check.py on a tiny Table 2 run: every cell is trained for 50 % more
epochs, the verdicts as run are the run's own, and a run without checkpoints is one line."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from chanpos.cli import app

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "plateau_check.py"
TINY = ["--train-samples", "64", "--val-samples", "16", "--test-samples", "40",
        "--max-epochs", "2", "--width", "4", "--batch-size", "32", "--pairs", "1",
        "--bn-batches", "1", "--no-progress"]


def _check(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(folder)], capture_output=True,
                          text=True, timeout=600)


def test_table2_cells_train_on_from_their_checkpoints(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["table2", "--seeds", "0,1", "--sources", "shapes-hard",
                                   "--methods", "baseline,augshift,baseline-2x",
                                   "--keep-checkpoints", *TINY, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    done = _check(folder)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for row in doc["rows"]:
        key = f"{row['source']}-{row['method']}-seed{row['seed']}"
        (line,) = [ln for ln in lines if ln.startswith(f"| {key} |")]
        cells = [c.strip() for c in line.strip("|").split("|")]
        epochs = row["training"]["epochs"]
        assert int(cells[1]) == epochs and float(cells[3]) == row["consistency_pct"]
        assert int(cells[4]) == math.ceil(epochs * 1.5)  # 50 % more epochs than the verdict used
    for v in doc["verdicts"]:
        as_run = [ln for ln in lines if ln.startswith(f"{v['claim']} (shapes-hard, as run)")]
        assert len(as_run) == 1 and f"{v['effect']:+.2f}" in as_run[0]
    assert sum("50 % longer)" in ln for ln in lines) == 2


def test_a_run_without_checkpoints_is_one_line(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["table2", "--seeds", "0", "--sources", "shapes-hard",
                                   "--methods", "baseline", *TINY, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    shutil.rmtree(folder / "cells", ignore_errors=True)
    done = _check(folder)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--keep-checkpoints" in done.stderr
