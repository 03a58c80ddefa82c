"""`chanpos reproduce`: every experiment, one report that opens with every claim's verdict."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chanpos.cli import app


@pytest.mark.slow
def test_smoke_reproduce_reports_every_claim(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["reproduce", "--profile", "smoke", "--no-progress",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (folder,) = tmp_path.iterdir()
    doc = json.loads((folder / "results.json").read_text())
    claims = [v["claim"] for v in doc["verdicts"]]
    assert claims == ["table1.location", "table1.object", "table2.consistency",
                      "table2.vs_equal_compute", "figure4", "figure6", "audit.pooled_position",
                      "audit.order_carries_position", "figure4.ppocr-det", "figure6.ppocr-det",
                      "audit.pooled_position.ppocr-cls",
                      "audit.order_carries_position.ppocr-cls"]
    for v in doc["verdicts"]:
        # probes of a frozen model and a network chanpos did not train have no epochs
        if not v["claim"].startswith("audit.") and not v["claim"].endswith(".ppocr-det"):
            assert v["verdict"] == "inconclusive"  # smoke budgets never plateau
            assert v["checks"] and not all(c["passed"] for c in v["checks"])
    report = (folder / "report.md").read_text()
    assert report.index("## Verdicts") < report.index("## Table 1")
    assert (folder / "verdicts.png").stat().st_size > 1000
    for name in ("table1", "table2", "attack", "audit", "attack-real", "audit-real"):
        assert (folder / name / "results.json").is_file()
    audit = json.loads((folder / "audit" / "results.json").read_text())
    assert audit["origin"].endswith("table1/cells/location-k2-zeros-gapnet-seed0/model.pt")
    assert not list(folder.rglob("last.ckpt")) and doc["folder_bytes"] > 0
    assert "run folder " in report and " MB" in report
    res = CliRunner().invoke(app, ["reproduce", "--resume", str(folder)])
    assert res.exit_code == 0 and "already finished" in res.output
