"""`chanpos audit` end to end on tiny budgets: a model trained here, a torchvision state
dict, a chanpos model.pt; its user errors."""

import json
from pathlib import Path

import pytest
import torch
import torchvision
from typer.testing import CliRunner

from chanpos.cli import app
from chanpos.models import create_model, save_model_checkpoint

TINY = ["--profile", "smoke", "--no-progress"]


def run(args: list[str]):
    return CliRunner().invoke(app, args)


@pytest.mark.slow
def test_audit_trains_probes_reads_out_and_ranks(tmp_path: Path) -> None:
    res = run(["audit", *TINY, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    assert [v["claim"] for v in doc["verdicts"]] == [
        "audit.pooled_position", "audit.order_carries_position", "audit.order_free_semantics"]
    for v in doc["verdicts"]:
        assert v["n"] == 2 and [c["check"] for c in v["checks"][:2]] == ["probes_fitted",
                                                                          "converged"]
    assert doc["training"]["training"]["epochs"] == 1 and len(doc["replicates"]) == 2
    controls = {r["control"] for r in doc["readout"]}
    assert controls == {"model", "random weights", "circular padding", "image alone"}
    stages = {r["stage"] for r in doc["readout"] if r["control"] == "model"}
    assert stages == {"backbone.layer1", "backbone.layer2", "backbone.layer3",
                      "backbone.layer4", "all"}
    assert {r["map"] for r in doc["readout"]} == {"H", "V", "G", "HS", "VS"}
    assert all(0 <= s["half_mass_fraction"] <= 0.5 for s in doc["channel_stages"])
    assert {r["kind"] for r in doc["top_k"]} == {"flip-ranked", "random"}
    report = (folder / "report.md").read_text()
    for part in ("## Verdicts", "## 1. Position through global pooling",
                 "## 2. Position readout per stage", "## 3. Which channels hold position"):
        assert part in report
    assert (folder / "readout_spc.png").stat().st_size > 1000
    assert (folder / "cells" / "model" / "model.pt").is_file()
    assert not list(folder.rglob("last.ckpt"))


SMALL = ["--replicates", "2", "--probe-samples", "40", "--probe-test-samples", "20",
         "--image-size", "32", "--readout-samples", "16", "--readout-test-samples", "8",
         "--readout-size", "12", "--readout-epochs", "1", "--top-k", "4", "--random-draws",
         "1", "--grid-size", "2", "--source", "shapes", "--no-progress"]


def test_audit_of_a_torchvision_state_dict_and_of_a_chanpos_model_pt(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tv = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None, num_classes=10).state_dict(), tv)
    gap = tmp_path / "model.pt"
    save_model_checkpoint(create_model("gapnet", num_classes=4, width=4),
                          {"name": "gapnet", "kwargs": {"num_classes": 4, "width": 4}}, gap)
    for model, ckpt, layer, stages in (("resnet18", tv, "layer4", 4), ("gapnet", gap, "backbone", 4)):
        out = tmp_path / model
        res = run(["audit", "--model", model, "--checkpoint", str(ckpt), *SMALL,
                   "--out", str(out)])
        assert res.exit_code == 0, res.output
        doc = json.loads(next(out.glob("audit-*/results.json")).read_text())
        assert doc["layer"] == layer and len(doc["stages"]) == stages
        assert doc["origin"] == str(ckpt) and doc["training"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "resnet18"], "chanpos trains only its own classifiers here"),
    (["--model", "classifier", "--layer", "fc"], "layer 'fc' gives (2, 10) outputs"),
    (["--model", "classifier", "--probe-samples", "999999"], "--probe-samples 999999 asks for"),
    (["--model", "classifier", "--maps", "H,X"], "unknown position map 'X'"),
    (["--model", "classifier", "--replicates", "1"], "--replicates must be a whole number >= 2"),
])
def test_audit_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = run(["audit", "--profile", "smoke", *args, "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not list(tmp_path.iterdir())
