"""table1 end to end through the CLI on tiny budgets, and its user-error paths."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from chanpos.cli import app

TINY = ["--location-train-samples", "48", "--object-train-samples", "48", "--val-samples",
        "16", "--test-samples", "20", "--max-epochs", "1", "--width", "4", "--bn-batches", "1",
        "--seeds", "0,1", "--no-progress"]


def run(args: list[str]):
    return CliRunner().invoke(app, args)


def test_table1_tiny_run_writes_a_valid_run_folder(tmp_path: Path) -> None:
    res = run(["table1", "--grid-sizes", "2", "--paddings", "zeros,circular", "--object-paddings",
               "zeros", "--object-grid-sizes", "2", "--tasks", "location,object", *TINY,
               "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    assert doc["experiment"] == "table1" and doc["profile"] == "quick"
    # location: 2 paddings x 2 models; object: zeros x 2 models; each for 2 seeds
    assert len(doc["rows"]) == 12
    keys = {"model", "padding", "grid_size", "task", "accuracy_pct", "chance_pct", "training",
            "train_samples", "val_samples", "seconds", "seed", "lr", "correct"}
    for row in doc["rows"]:
        assert set(row) == keys
        assert len(row["correct"]) == 20 and set(row["correct"]) <= {"0", "1"}
        assert row["accuracy_pct"] == round(100 * row["correct"].count("1") / 20, 2)
    claims = [v["claim"] for v in doc["verdicts"]]
    assert claims == ["table1.location", "table1.object"]
    for v in doc["verdicts"]:
        assert set(v) == {"claim", "statement", "effect", "ci95", "unit", "n", "replicate",
                          "min_effect", "verdict", "checks", "planning", "values",
                          "replicate_ids"}
        assert v["n"] == 2 and v["replicate"] == "training seed"
        assert v["replicate_ids"] == ["seed 0", "seed 1"] and len(v["values"]) == 2
        # one epoch cannot reach a plateau: the verdict is never decided
        assert v["verdict"] == "inconclusive" and v["checks"][0]["check"] == "converged"
        assert not v["checks"][0]["passed"]
        # it says how many epochs a rerun needs at the least, with the task's own flag
        flag = "--object-max-epochs" if v["claim"] == "table1.object" else "--max-epochs"
        need = re.search(rf"rerun with {flag} (\d+) or more", v["checks"][0]["detail"])
        assert need is not None and int(need.group(1)) > 1, v["checks"][0]["detail"]
    report = (folder / "report.md").read_text()
    assert report.index("## Verdicts") < report.index("## Location task")
    assert {r["chance_pct"] for r in doc["rows"] if r["task"] == "location"} == {25.0}
    assert report.startswith("# Table 1")
    assert (folder / "table1.png").stat().st_size > 1000
    assert (folder / "config.yaml").is_file()
    assert list(folder.glob("cells/*/model.pt"))
    assert "| 2x2 | zeros |" in res.output
    assert (folder / "validation_curves.png").stat().st_size > 1000
    # a Table 1 GAPNet file names its architecture, source and grid: --checkpoint alone audits it
    gapnet = next(folder.glob("cells/location-*-gapnet-seed0/model.pt"))
    res = run(["audit", "--checkpoint", str(gapnet), "--replicates", "2", "--probe-samples",
               "40", "--probe-test-samples", "20", "--readout-samples", "16",
               "--readout-test-samples", "8", "--readout-epochs", "1", "--top-k", "4",
               "--random-draws", "1", "--no-progress", "--out", str(tmp_path / "audit")])
    assert res.exit_code == 0, res.output
    audit = json.loads(next((tmp_path / "audit").glob("audit-*/results.json")).read_text())
    assert audit["model"] == "gapnet" and audit["origin"] == str(gapnet)
    assert "the model's own" in audit["normalisation"]


def test_the_object_task_trains_with_its_own_batch_epochs_and_weight_average(
    tmp_path: Path,
) -> None:
    res = run(["table1", "--tasks", "object", "--object-grid-sizes", "1", *TINY,
               "--object-batch-size", "8", "--object-max-epochs", "2", "--weight-average", "0.9",
               "--keep-checkpoints", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    assert {r["training"]["epochs"] for r in doc["rows"]} == {2}  # not --max-epochs 1
    ckpt = torch.load(next(folder.glob("cells/object-*-permutenet-seed0/checkpoints/last.ckpt")),
                      map_location="cpu", weights_only=True)
    # 48 tiles in batches of 8: 6 steps an epoch, each one averaged
    assert ckpt["global_step"] == 12 and int(ckpt["state_dict"]["averaged.updates"]) == 12
    report = (folder / "report.md").read_text()
    assert "batch 8, weights: moving average (decay 0.9 per step)" in report
    assert "at most 2 epochs" in report


def test_the_object_task_can_ask_about_the_first_classes_only(tmp_path: Path) -> None:
    res = run(["table1", "--tasks", "location,object", "--object-grid-sizes", "1", *TINY,
               "--object-classes", "3", "--object-weight-average", "0.5", "--out",
               str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    chance = {r["task"]: r["chance_pct"] for r in doc["rows"]}
    assert chance == {"location": 25.0, "object": 33.33}
    assert {len(r["correct"]) for r in doc["rows"]} == {20}  # --test-samples of those classes
    model = torch.load(next(folder.glob("cells/object-*-gapnet-seed0/model.pt")),
                       map_location="cpu", weights_only=True)
    assert model["chanpos_model"]["meta"]["class_names"] == ["0", "1", "2"]
    report = (folder / "report.md").read_text()
    assert "the first 3 of mnist's classes only (chance 33 %)" in report
    assert report.count("moving average (decay 0.5 per step)") == 1  # the object task only


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "colour"], "unknown source 'colour'"),
        (["--paddings", "mirror"], "unknown padding 'mirror'"),
        (["--models", "vgg"], "unknown model 'vgg'"),
        (["--grid-sizes", "0"], "--grid-sizes must be a whole number from 2 to 64"),
        (["--grid-sizes", "1"], "--grid-sizes must be a whole number from 2 to 64"),
        (["--tasks", "colour"], "unknown task 'colour'"),
        (["--source", "cifar10"], "needs --data-root"),
        (["--source", "cifar10", "--data-root", "EMPTY"], "not found; point --data-root"),
        (["--object-patience", "1"], "--object-patience must be a whole number >= 2"),
        (["--weight-average", "1"], "--weight-average must be"),
        (["--object-batch-size", "0"], "--object-batch-size must be a whole number >= 1"),
        (["--object-classes", "1"], "--object-classes must be a whole number >= 2"),
        (["--object-classes", "11"], "--object-classes 11: mnist has only 10 classes"),
        (["--paddings", "valid", "--grid-sizes", "3"], "padding 'valid' shrinks feature maps"),
        (["--profile", "huge"], "unknown profile 'huge'"),
        (["--precision", "8-bit"], "unknown precision '8-bit'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run_folder(
    tmp_path: Path, args: list[str], message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "runs"
    args = [str(empty) if a == "EMPTY" else a for a in args]
    res = run(["table1", *args, *TINY, "--out", str(out)])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert "Traceback" not in res.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_two_process_cpu_ddp_gives_one_results_json(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "chanpos", "table1", "--grid-sizes", "2", "--paddings", "zeros",
           "--tasks", "location", *TINY, "--out", str(tmp_path), "--accelerator", "cpu",
           "--devices", "2", "--strategy", "ddp"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = list(tmp_path.rglob("results.json"))
    assert len(results) == 1
    doc = json.loads(results[0].read_text())
    assert len(doc["rows"]) == 4 and doc["config"]["devices"] == "2"


@pytest.mark.slow
def test_torchrun_two_cpu_processes_give_one_results_json(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    cmd = [str(torchrun), "--nproc-per-node", "2", "-m", "chanpos", "table1", "--grid-sizes", "2",
           "--paddings", "zeros", "--tasks", "location", *TINY, "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = list(tmp_path.rglob("results.json"))
    assert len(results) == 1
    doc = json.loads(results[0].read_text())
    assert doc["config"]["devices"] == "2"
    assert doc["config"]["strategy"] == "ddp"


@pytest.mark.slow
def test_compile_trains_through_inductor_and_saves_plain_keys(tmp_path: Path) -> None:
    """--compile: the compiled module computes what the eager one does, and model.pt loads."""
    from chanpos.models import create_model, load_model_checkpoint

    net = create_model("gapnet", num_classes=4, width=4).eval()
    x = torch.randn(2, 3, 64, 64)
    eager = net(x)
    compiled = torch.compile(net)
    assert torch.allclose(compiled(x), eager, atol=1e-5)
    tiny = ["--models", "gapnet", "--paddings", "zeros", "--grid-sizes", "2", "--tasks",
            "location", "--location-train-samples", "48", "--val-samples", "8",
            "--test-samples", "20", "--max-epochs", "1", "--seeds", "0", "--width", "4",
            "--jobs", "1", "--no-progress", "--accelerator", "cpu", "--compile"]
    import torch._inductor.config as inductor_config

    layout = inductor_config.layout_optimization
    try:
        res = run(["table1", *tiny, "--out", str(tmp_path)])
        # a width-4 GAPNet's strided 1x1 shortcut: inductor must keep its convs contiguous
        # (its channels_last backward hung this test on an AVX2 CPU)
        assert inductor_config.layout_optimization is False
    finally:
        inductor_config.layout_optimization = layout
    assert res.exit_code == 0, res.output
    (ckpt,) = tmp_path.glob("*/cells/*/model.pt")
    load_model_checkpoint(ckpt)  # plain keys, no torch.compile wrapper prefix


def _t1row(model: str, task: str, seed: int, correct: str, plateaued: bool = True):
    from chanpos.experiments.table1.rows import Table1Row
    from chanpos.training.options import FitResult

    acc = round(100 * correct.count("1") / len(correct), 2)
    return Table1Row(model=model, padding="zeros", grid_size=2, task=task, accuracy_pct=acc,
                     chance_pct=25.0 if task == "location" else 10.0,
                     training=FitResult(9, 50, plateaued, (1.0,) * 9, gains=(0.2,)),
                     train_samples=10, val_samples=4, seconds=1.0, seed=seed, lr=0.01,
                     correct=correct)


def test_table1_verdicts_by_hand() -> None:
    from chanpos.experiments.table1.claims import table1_verdicts
    from chanpos.experiments.table1.config import table1_config

    cfg = table1_config("smoke", {"tasks": ("location", "object")})
    rows = []
    # location: GAPNet right on 4 of 4 canvases, PermuteNet on 1, 2, 1 -> 75, 50, 75 points
    for seed, perm in ((0, "1000"), (1, "1100"), (2, "0010")):
        rows += [_t1row("gapnet", "location", seed, "1111"), _t1row("permutenet", "location",
                                                                      seed, perm)]
    # object: GAPNet 4/4, PermuteNet 3/4 every seed -> a gap of 25 points: 10 - 25 = -15
    for seed in (0, 1, 2):
        rows += [_t1row("gapnet", "object", seed, "1111"), _t1row("permutenet", "object",
                                                                    seed, "1110")]
    location, objects = table1_verdicts(rows, cfg)
    assert location.values == (75.0, 50.0, 75.0) and location.effect == round(200 / 3, 4)
    assert location.replicate_ids == ("seed 0", "seed 1", "seed 2")
    assert location.verdict == "reproduced"
    assert objects.values == (-15.0, -15.0, -15.0) and objects.ci95 == (-15.0, -15.0)
    assert objects.verdict == "contradicted"
    assert [c.check for c in objects.checks] == ["converged", "learned"]
    # one model that did not plateau makes the verdict inconclusive, with a planning estimate
    rows[1] = _t1row("permutenet", "location", 0, "1000", plateaued=False)
    location, _ = table1_verdicts(rows, cfg)
    assert location.verdict == "inconclusive" and "first pass converged" in location.planning
