"""The audit of a real pretrained classifier (PaddleOCR's text-direction MobileNetV3) on its
own text-line format: a word tile in one cell of a 1 x 4 row, its own input statistics, the
layer found in its imported graph, verdicts that name the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnx2torch")

from typer.testing import CliRunner  # noqa: E402

from chanpos.cli import app  # noqa: E402
from chanpos.data import place_in_grid  # noqa: E402


def test_a_row_of_cells_is_a_text_line() -> None:
    tiles = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4) + 1
    canvas = place_in_grid(tiles, torch.tensor([0, 3]), 4, rows=1)
    assert canvas.shape == (2, 3, 4, 16)
    assert torch.equal(canvas[0, :, :, :4], tiles[0]) and canvas[0, :, :, 4:].abs().sum() == 0
    assert torch.equal(canvas[1, :, :, 12:], tiles[1]) and canvas[1, :, :, :12].abs().sum() == 0


@pytest.mark.slow
def test_smoke_audit_of_the_direction_classifier(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["audit-real", "--profile", "smoke", "--no-progress",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(next(tmp_path.glob("*/results.json")).read_text())
    assert [v["claim"] for v in doc["verdicts"]] == ["audit.pooled_position.ppocr-cls",
                                                     "audit.order_carries_position.ppocr-cls"]
    assert doc["layer"] == "net.MaxPool@0"  # what the final global pooling pools
    assert "the model's own" in doc["normalisation"] and "0.5" in doc["normalisation"]
    assert all("GlobalAveragePool" not in s for s in doc["stages"])  # SE vectors are no stage
    report = next(tmp_path.glob("*/report.md")).read_text()
    assert "1x4 canvases" in report and "text-direction" in report


def test_a_real_network_with_a_checkpoint_is_one_line(tmp_path: Path) -> None:
    weights = tmp_path / "w.pt"
    torch.save({}, weights)
    res = CliRunner().invoke(app, ["audit-real", "--profile", "smoke", "--checkpoint",
                                   str(weights), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "holds its own weights" in res.output
