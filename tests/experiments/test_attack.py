import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from chanpos.cli import app
from chanpos.experiments.attack import attack_config, attack_verdicts

TINY = ["--epochs", "1", "--train-samples", "16", "--val-samples", "6", "--ns", "0,2,8",
        "--region-ns", "4", "--random-draws", "3", "--width", "4", "--image-size", "32,64",
        "--examples", "2", "--batch-size", "8", "--no-progress"]
runner = CliRunner()


def _invoke(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=False)


@pytest.mark.slow
def test_attack_end_to_end_then_from_its_checkpoint(tmp_path: Path) -> None:
    res = _invoke(["attack", "--out", str(tmp_path), *TINY])
    assert res.exit_code == 0, res.output
    (run,) = tmp_path.glob("attack-*")
    results = json.loads((run / "results.json").read_text())
    assert results["experiment"] == "attack" and results["num_channels"] == 32
    assert set(results["ranking"]) >= {"absolute", "left", "right"}
    assert sorted(results["ranking"]["absolute"]) == list(range(32))
    curves = results["curves"]
    assert [p["n"] for p in curves["ranked"]] == [0, 2, 8]
    assert set(curves["random"][1]) == {"n", "miou_mean", "miou_std"}
    assert set(curves) == {"ranked", "random", "magnitude", "least"}
    zero = {k: (v[0]["miou"] if k != "random" else v[0]["miou_mean"]) for k, v in curves.items()}
    assert len(set(zero.values())) == 1  # N = 0 is the same unattacked model for every curve
    assert {(r["channels"], r["region"]) for r in results["regions"]} == {
        ("left", "left"), ("left", "right"), ("right", "left"), ("right", "right")}
    assert set(results["regions"][0]) >= {"channels", "region", "n", "miou", "random_miou_mean",
                                          "random_miou_std"}
    assert set(results["reproduced"]) == {"figure4", "figure6"}
    report = (run / "report.md").read_text()
    assert "Figure 4's claim" in report and "Figure 6's claim" in report
    for name in ("attack_curve.png", "attack_regions.png", "attack_examples.png", "model.pt",
                 "config.yaml"):
        assert (run / name).is_file(), name
    assert "run folder:" in res.output

    # attack the saved model: no training, same numbers at N = 0
    out2 = tmp_path / "again"
    res = _invoke(["attack", "--out", str(out2), "--checkpoint", str(run / "model.pt"), *TINY])
    assert res.exit_code == 0, res.output
    again = json.loads(next(out2.glob("attack-*/results.json")).read_text())
    assert again["seconds"]["train"] == 0
    assert again["baseline_miou"] == results["baseline_miou"]
    assert again["ranking"]["absolute"] == results["ranking"]["absolute"]

    # rank: the audit of a user's model
    out3 = tmp_path / "rank"
    res = _invoke(["rank", "--model", "deeplabv3_small", "--checkpoint", str(run / "model.pt"),
                   "--samples", "6", "--image-size", "32,64", "--top", "5", "--out", str(out3)])
    assert res.exit_code == 0, res.output
    top = results["ranking"]["absolute"][0]
    assert f"| 1 | {top} |" in res.output
    rank_dir = next(out3.glob("rank-*"))
    ranking = json.loads((rank_dir / "ranking.json").read_text())
    assert ranking["order"] == results["ranking"]["absolute"]  # same model, same 6 images
    assert (rank_dir / "rank_histogram.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ns", "0,40"], "N = 40 is larger than the 32 channels"),
        (["--model", "unet"], "unknown --model 'unet'"),
        (["--source", "cityscapes"], "needs --data-root"),
        (["--random-draws", "0"], "--random-draws must be >= 1"),
        (["--padding", "mirror"], "unknown --padding"),
        (["--rank-images", "/nonexistent/list.txt"], "does not exist"),
        (["--rank-images", "x.txt", "--rank-where", "car:left"], "not both"),
        (["--rank-where", "tram:left"], "unknown class 'tram'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_folder(tmp_path: Path, args: list[str],
                                                     message: str) -> None:
    res = runner.invoke(app, ["attack", "--out", str(tmp_path), *TINY, *args])
    assert res.exit_code == 2
    err = res.stderr.strip() if hasattr(res, "stderr") else res.output.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("attack-*"))


def test_cityscapes_root_without_folders(tmp_path: Path) -> None:
    empty = tmp_path / "cityscapes"
    empty.mkdir()
    res = runner.invoke(app, ["attack", "--out", str(tmp_path), "--source", "cityscapes",
                              "--data-root", str(empty), *TINY])
    assert res.exit_code == 2 and "leftImg8bit/val/<city>/" in res.output
    assert not list(tmp_path.glob("attack-*"))


def test_checkpoint_mismatch(tmp_path: Path) -> None:
    from chanpos.models import create_model

    small = create_model("deeplabv3_small", num_classes=8, width=4, head_channels=64)
    theirs = {("classifier." + k if k.startswith("classifier.") else k): v
              for k, v in small.state_dict().items()}
    path = tmp_path / "authors.pth"
    torch.save({"model_state": theirs}, path)
    res = runner.invoke(app, ["attack", "--out", str(tmp_path), "--checkpoint", str(path),
                              *TINY, "--width", "8"])
    assert res.exit_code == 2 and "shape mismatches" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob("attack-*"))


def test_rank_unknown_layer_lists_valid_names(tmp_path: Path) -> None:
    res = runner.invoke(app, ["rank", "--model", "deeplabv3_small", "--layer", "layer9",
                              "--samples", "2", "--image-size", "32,64", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "valid layers: backbone" in res.output
    res = runner.invoke(app, ["rank", "--model", "no_such_net", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "torchvision.models name" in res.output
    assert not list(tmp_path.glob("rank-*"))


def test_rank_torchvision_classifier_on_a_classification_source(tmp_path: Path) -> None:
    res = _invoke(["rank", "--model", "resnet18", "--layer", "layer3", "--source", "shapes",
                   "--samples", "8", "--mode", "signed", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    results = json.loads(next(tmp_path.glob("rank-*/results.json")).read_text())
    assert results["num_channels"] == 256 and set(results["sides"]) == {"left", "right"}


def _fake(ranked, rand_mean, rand_std, regions) -> dict:
    ns = [0, 4, 8, 16]
    return {
        "num_channels": 32,
        "curves": {
            "ranked": [{"n": n, "miou": m} for n, m in zip(ns, ranked, strict=True)],
            "random": [{"n": n, "miou_mean": m, "miou_std": s}
                       for n, m, s in zip(ns, rand_mean, rand_std, strict=True)],
        },
        "regions": regions,
    }


def test_verdict_rules() -> None:
    region = lambda ch, half, drop, rdrop, std: {  # noqa: E731
        "channels": ch, "region": half, "n": 8, "drop": drop, "random_drop_mean": rdrop,
        "random_miou_std": std}
    good_regions = [region("left", "left", 5.0, 1.0, 1.0), region("left", "right", 2.0, 1.0, 1.0)]
    r = _fake([60, 55, 50, 40], [60, 58, 56, 50], [0, 1, 1, 1], good_regions)
    assert attack_verdicts(r) == {"figure4": True, "figure6": True}
    # N = 16 > C/4 = 8 does not count; a tie within one std at N = 4 fails figure 4
    r = _fake([60, 57.5, 50, 70], [60, 58, 56, 50], [0, 1, 1, 1], good_regions)
    assert attack_verdicts(r)["figure4"] is False
    r = _fake([60, 55, 50, 70], [60, 58, 56, 50], [0, 1, 1, 1], good_regions)
    assert attack_verdicts(r)["figure4"] is True
    # left channels hurting the right half more: no figure 6
    worse_right = [region("left", "left", 5.0, 1.0, 1.0), region("left", "right", 6.0, 1.0, 1.0)]
    assert attack_verdicts(_fake([60] * 4, [60] * 4, [0] * 4, worse_right))["figure6"] is False
    assert attack_verdicts(_fake([60] * 4, [60] * 4, [0] * 4, []))["figure6"] is None


def test_profiles_resolve() -> None:
    quick = attack_config("quick")
    assert quick.source == "streets" and quick.random_draws >= 3
    assert max(n for n in quick.ns if n <= 128 / 4) == 32
    paper = attack_config("paper", data_root="/data/cityscapes")
    assert paper.model == "deeplabv3_resnet50" and paper.output_stride == 16
    assert paper.ns == (0, 10, 20, 50, 100, 200, 300, 500)


def test_same_seed_same_initial_model() -> None:
    from chanpos.experiments.attack import prepare_attack

    cfg = attack_config("quick", train_samples=4, val_samples=4, width=4, image_size=(32, 64),
                        ns=(0, 4), region_ns=(4,), rank_where="all")
    a, b = prepare_attack(cfg), prepare_attack(cfg)
    c = prepare_attack(attack_config("quick", train_samples=4, val_samples=4, width=4,
                                     image_size=(32, 64), ns=(0, 4), region_ns=(4,),
                                     rank_where="all", seed=1))
    first = next(iter(a.model.state_dict()))
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())
    assert not torch.equal(a.model.state_dict()[first], c.model.state_dict()[first])
    assert a.signed_index == list(range(4))  # "all": every ranking image
