"""`chanpos attack --study`: arms are whole attack runs; the pretraining comparison."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chanpos.cli import app
from chanpos.experiments.attack.study_config import study_arms, study_config

TINY = ["--max-epochs", "1", "--train-samples", "16", "--val-samples", "6", "--eval-samples",
        "6", "--ns", "0,2,8", "--region-ns", "4", "--random-draws", "3", "--width", "4",
        "--image-size", "32,64", "--examples", "0", "--batch-size", "8", "--seeds", "0,1",
        "--pretrain-samples", "64", "--pretrain-val-samples", "16", "--pretrain-max-epochs",
        "1", "--rank-where", "all", "--no-progress"]


def test_study_has_a_pretraining_factor() -> None:
    _, arms = study_arms("quick")
    assert arms["scratch"] == {"pretrain": "none"}
    cfg = study_config("quick")
    assert cfg.arm_config("scratch").pretrain == "none"
    assert cfg.arm_config("pretrained").pretrain != "none"


@pytest.mark.slow
def test_study_compares_pretrained_and_scratch(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["attack", "--study", "--study-arms", "pretrained,scratch",
                                   *TINY, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.glob("attack-study-*")
    results = json.loads((folder / "results.json").read_text())
    assert [c["arm"] for c in results["arms"]] == ["pretrained", "scratch"]
    assert results["pretraining_pairs"] == [["pretrained", "scratch"]]
    report = (folder / "report.md").read_text()
    assert "## Does pretraining change the verdicts?" in report
    # a change of verdict is claimed only between decided verdicts; the difference of
    # effects is a Welch interval over the two arms' models
    comps = results["pretraining_comparisons"]
    assert [(c["claim"], c["outcome"]) for c in comps] == [("figure4", "undecided"),
                                                           ("figure6", "undecided")]
    assert all(c["ci95"][0] <= c["effect_difference"] <= c["ci95"][1] for c in comps)
    assert "not decided: pretrained and scratch inconclusive" in report
    for arm in results["arms"]:  # every arm's verdicts carry their checks
        for claim in ("figure4", "figure6"):
            assert [c["check"] for c in arm[claim]["checks"]] == ["converged", "sensitive"]
            assert arm[claim]["verdict"] == "inconclusive"  # one epoch never plateaus
    for arm in ("pretrained", "scratch"):
        arm_doc = json.loads((folder / "arms" / arm / "results.json").read_text())
        assert len(arm_doc["models"]) == 2
    # resuming a finished study changes nothing
    before = (folder / "results.json").read_bytes()
    res = CliRunner().invoke(app, ["attack", "--study", "--resume", str(folder)])
    assert res.exit_code == 0 and f"already finished: {folder}" in res.output
    assert (folder / "results.json").read_bytes() == before


def test_study_input_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["attack", "--study", "--study-arms", "nope", *TINY,
                                   "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown study arm 'nope'" in res.stderr
    res = CliRunner().invoke(app, ["attack", "--study", "--study-arms", "scratch", *TINY,
                                   "--ns", "0,64", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "larger than the 32 channels" in res.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("a", "b", "outcome"), [
    ("contradicted", "contradicted", "unchanged"),
    ("reproduced", "contradicted", "changed"),
    ("reproduced", "inconclusive", "undecided"),
])
def test_a_verdict_change_is_claimed_only_between_decided_verdicts(
        monkeypatch: pytest.MonkeyPatch, a: str, b: str, outcome: str) -> None:
    from chanpos.experiments.attack import study

    effects = {"p": [1.0, 2.0, 3.0], "s": [0.0, 0.5, 1.0]}
    monkeypatch.setattr(study, "_model_effects", lambda r, claim: effects[r["name"]])
    results = {name: {"name": name, "models": [{}] * 3,
                      "verdicts": [{"claim": "figure4", "verdict": v}]}
               for name, v in (("p", a), ("s", b))}
    c = study._compare(results, "p", "s", "figure4")
    assert c["outcome"] == outcome and c["effect_difference"] == 1.5
    assert c["ci95"][0] < 1.5 < c["ci95"][1]
    assert ("**changed**" in c["text"]) == (outcome == "changed")
