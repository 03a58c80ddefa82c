"""table2 end to end through the CLI on tiny budgets, `chanpos consistency`, user errors."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from chanpos.cli import app
from chanpos.experiments.table2.claims import paired, table2_verdicts
from chanpos.experiments.table2.config import table2_config
from chanpos.experiments.table2.report import summarise_table2
from chanpos.experiments.table2.rows import Table2Row
from chanpos.models import create_model, save_model_checkpoint
from chanpos.training.options import FitResult

TINY = ["--train-samples", "64", "--val-samples", "16", "--test-samples", "40",
        "--max-epochs", "1", "--width", "4", "--batch-size", "32", "--pairs", "1",
        "--bn-batches", "1", "--no-progress"]
ROW_KEYS = {"method", "source", "seed", "top1_pct", "consistency_pct", "max_shift",
            "shift_mode", "lam", "training", "seconds"}


def run(args: list[str]):
    return CliRunner().invoke(app, args)


def test_table2_tiny_run_writes_a_valid_run_folder_and_checkpoints_evaluate(tmp_path: Path) -> None:
    res = run(["table2", "--seeds", "0,1", "--sources", "shapes-hard", "--max-shift", "4", "--methods",
               "baseline,augshift,blurpool,blurpool+augshift,baseline-2x", *TINY,
               "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    assert doc["experiment"] == "table2" and doc["profile"] == "quick"
    methods = ["baseline", "augshift", "blurpool", "blurpool+augshift", "baseline-2x"]
    assert [(r["method"], r["seed"]) for r in doc["rows"]] == [(m, s) for m in methods
                                                               for s in (0, 1)]
    for row in doc["rows"]:
        assert set(row) == ROW_KEYS
        assert 0 <= row["top1_pct"] <= 100 and 0 <= row["consistency_pct"] <= 100
        assert row["max_shift"] == 4 and row["shift_mode"] == "zeros"
        assert row["lam"] == (1.0 if "augshift" in row["method"] else None)
        fit = row["training"]
        assert fit["epochs"] == 1 and fit["max_epochs"] == 1 and not fit["plateaued"]
        assert len(fit["history"]) == 1
    assert [s["method"] for s in doc["summary"]] == methods
    assert [(v["claim"], v["n"], v["replicate"]) for v in doc["verdicts"]] == [
        ("table2.consistency", 2, "training seed"), ("table2.vs_equal_compute", 2, "training seed")]
    # one epoch cannot reach a plateau: never a decided verdict
    for v in doc["verdicts"]:
        assert v["verdict"] == "inconclusive" and not v["checks"][0]["passed"]
        assert [c["check"] for c in v["checks"]] == ["converged", "below_ceiling"]
    assert doc["shift_protocol"]["max_shift"] == 4 and doc["shift_protocol"]["pairs"] == 1
    report = (folder / "report.md").read_text()
    assert report.startswith("# Table 2") and report.index("## Verdicts") < report.index(
        "**Shift protocol")
    assert "[-4, 4] px" in report and "zero padding" in report and "1 pair" in report
    assert "| cifar10 | paper (ResNet-18) | 90.8 | 94.8 | +4.0 |" in report
    assert "| shapes-hard | ours (2 seeds) |" in report
    assert (folder / "table2.png").stat().st_size > 1000
    assert "| baseline-2x | 1! 1! |" in res.output
    assert (folder / "validation_curves.png").stat().st_size > 1000

    # the saved model re-evaluates to exactly the row's numbers (same protocol and test set)
    ckpt = folder / "cells" / "shapes-hard-blurpool_augshift-seed1" / "model.pt"
    res = run(["consistency", "--checkpoint", str(ckpt), "--source", "shapes-hard",
               "--test-samples", "40", "--pairs", "1", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    row = next(r for r in doc["rows"] if r["method"] == "blurpool+augshift" and r["seed"] == 1)
    assert f"| {row['top1_pct']:.2f} | {row['consistency_pct']:.2f} |" in res.output
    (audit,) = (tmp_path / "c").iterdir()
    assert json.loads((audit / "results.json").read_text())["consistency_pct"] == pytest.approx(
        row["consistency_pct"], abs=0.005)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-shift", "-1"], "--max-shift must be a whole number >= 0"),
        (["--methods", "baseline,mixup"], "unknown method 'mixup'"),
        (["--shift-mode", "wrap"], "unknown shift mode 'wrap'"),
        (["--lam", "-0.5"], "--lam must be a finite number >= 0"),
        (["--lam", "nan"], "--lam must be a finite number >= 0"),
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--max-shift", "40", "--shift-mode", "reflect"], "too large"),
        (["--sources", "colour"], "unknown source 'colour'"),
        (["--sources", "cifar100"], "needs --data-root"),
        (["--seeds", "0,0"], "duplicates"),
        (["--profile", "huge"], "unknown profile 'huge'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run_folder(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "runs"
    res = run(["table2", *args, *TINY, "--out", str(out)])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_consistency_refuses_other_architectures_and_junk(tmp_path: Path) -> None:
    gap = tmp_path / "gapnet.pt"
    save_model_checkpoint(create_model("gapnet", num_classes=10, width=4),
                          {"name": "gapnet", "kwargs": {"num_classes": 10, "width": 4}}, gap)
    junk = tmp_path / "junk.pt"
    junk.write_text("junk\n")
    wrong_classes = tmp_path / "c3.pt"
    save_model_checkpoint(create_model("classifier", num_classes=3, width=4),
                          {"name": "classifier", "kwargs": {"num_classes": 3, "width": 4}},
                          wrong_classes)
    for path, message in ((gap, "holds a 'gapnet' model"),
                          (junk, "not a loadable PyTorch checkpoint"),
                          (wrong_classes, "predicts 3 classes")):
        res = run(["consistency", "--checkpoint", str(path), "--test-samples", "8",
                   "--source", "shapes-hard", "--out", str(tmp_path / "c")])
        assert res.exit_code == 2, res.output
        err = res.stderr.strip()
        assert message in err and len(err.splitlines()) == 1
    # a model file that does not say what it was trained on needs --source
    res = run(["consistency", "--checkpoint", str(wrong_classes), "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "does not say which source it was trained on" in res.stderr
    res = run(["consistency", "--checkpoint", str(wrong_classes), "--max-shift", "-2",
               "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "--max-shift must be a whole number >= 0" in res.stderr
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def _row(method: str, seed: int, top1: float, cons: float, plateaued: bool = True) -> Table2Row:
    return Table2Row(method=method, source="s", seed=seed, top1_pct=top1, consistency_pct=cons,
                     max_shift=4, shift_mode="zeros", lam=None,
                     training=FitResult(5, 9, plateaued, (1.0,) * 5), seconds=1.0)


def test_summary_paired_differences_and_verdicts_by_hand() -> None:
    rows = [_row("baseline", 0, 90.0, 80.0), _row("baseline", 1, 92.0, 82.0),
            _row("baseline", 2, 91.0, 81.0),
            _row("augshift", 0, 89.0, 86.0), _row("augshift", 1, 90.0, 87.0),
            _row("augshift", 2, 90.0, 88.0),
            _row("baseline-2x", 0, 95.0, 90.0), _row("baseline-2x", 1, 95.0, 88.0)]
    base = summarise_table2(rows)[0]
    assert base["top1_mean"] == 91.0 and base["consistency_mean"] == 81.0
    assert base["consistency_std"] == pytest.approx(1.0)
    # paired by seed: seed 2 has no baseline-2x, so it is left out of that comparison
    assert paired(rows, "s", "augshift", "baseline", "consistency_pct") == [6.0, 5.0, 7.0]
    assert paired(rows, "s", "augshift", "baseline-2x", "consistency_pct") == [-4.0, -1.0]
    cfg = table2_config("quick")
    cons, equal = table2_verdicts(rows, cfg)
    # mean 6, sd 1, n 3: t(0.975, 2) = 4.302653 -> half width 4.302653 / sqrt(3) = 2.4841
    assert cons.claim == "table2.consistency" and cons.effect == 6.0 and cons.n == 3
    assert cons.ci95 == pytest.approx((6 - 2.4841, 6 + 2.4841), abs=1e-3)
    assert cons.verdict == "reproduced" and cons.replicate == "training seed"
    # mean -2.5, sd 2.1213, n 2: t(0.975, 1) = 12.7062 -> half width 19.059
    assert equal.claim == "table2.vs_equal_compute" and equal.verdict == "inconclusive"
    assert equal.ci95 == pytest.approx((-2.5 - 19.0593, -2.5 + 19.0593), abs=1e-3)
    assert [c.passed for c in cons.checks] == [True, True]
    # a model that did not plateau, or a baseline at the ceiling, leaves the claim open
    stuck = [_row(r.method, r.seed, r.top1_pct, r.consistency_pct, r.seed != 1) for r in rows]
    assert table2_verdicts(stuck, cfg)[0].verdict == "inconclusive"
    lift = {"baseline": 15, "augshift": 12, "baseline-2x": 5}
    high = [_row(r.method, r.seed, r.top1_pct, r.consistency_pct + lift[r.method]) for r in rows]
    v = table2_verdicts(high, cfg)[0]
    assert v.verdict == "inconclusive" and not v.checks[1].passed
    assert "96.00 % (mean of 3 seeds) against the 95 % ceiling" in v.checks[1].detail


def test_config_overrides_and_profiles() -> None:
    cfg = table2_config("quick", {"lam": 0.0, "methods": ("augshift",), "seeds": (3,)})
    assert cfg.lam == 0.0 and cfg.methods == ("augshift",) and cfg.cells() == [
        (cfg.sources[0], "augshift", 3)]
    quick = table2_config("quick")
    assert len(quick.seeds) >= 5 and not set(quick.seeds) & {100, 101, 102}  # calibration seeds
    assert quick.methods == ("baseline", "augshift")  # the equal-compute control: paper
    paper = table2_config("paper")
    assert "baseline-2x" in paper.methods
    assert set(paper.sources) == {"cifar10", "cifar100"} and paper.width == 64


def _image_folder(root: Path, per_class: int = 3) -> None:
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                arr = torch.randint(0, 256, (40 + 7 * i, 50, 3), generator=g, dtype=torch.uint8)
                Image.fromarray(arr.numpy()).save(root / split / cls / f"{i}.png")


def test_imagenet_folder_source_streams_uint8_crops_and_runs_table2(tmp_path: Path) -> None:
    from chanpos.data.imagefolder import load_image_folder

    _image_folder(tmp_path / "inet")
    images = load_image_folder(tmp_path / "inet", "train", size=32, resize=36)
    x, y, cell = images.dataset[4]
    assert x.shape == (3, 32, 32) and x.dtype == torch.uint8 and int(y) == 1 and int(cell) == 0
    assert images.num_classes == 2 and len(images) == 6 and len(images.subset(2)) == 2
    res = run(["table2", "--sources", "imagenet", "--data-root", str(tmp_path / "inet"),
               "--methods", "baseline", "--seeds", "0", *TINY, "--val-samples", "2",
               "--train-samples", "all", "--test-samples", "all",
               "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    doc = json.loads(next((tmp_path / "runs").rglob("results.json")).read_text())
    assert doc["rows"][0]["source"] == "imagenet"
    assert "torchvision resnet18" in next((tmp_path / "runs").rglob("report.md")).read_text()
    res = run(["table2", "--sources", "imagenet", "--data-root", str(tmp_path / "nope"), *TINY,
               "--out", str(tmp_path / "runs2")])
    assert res.exit_code == 2 and "nope does not exist" in res.stderr
    assert not (tmp_path / "runs2").exists()
