"""Figures 4-6 on a real pretrained network (PaddleOCR's DBNet text detector): the attack
through the split graph equals the whole network, `onnx:PATH --layer L` equals the built-in
name, `chanpos layers` lists the shapes the network produces, and the rendered text is
detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnx2torch")
pytest.importorskip("cv2")

from typer.testing import CliRunner  # noqa: E402

from chanpos.cli import app  # noqa: E402
from chanpos.experiments.attack.config import attack_real_config  # noqa: E402
from chanpos.experiments.attack.measure import _DetectionScores  # noqa: E402
from chanpos.experiments.attack.prepare import prepare_attack  # noqa: E402
from chanpos.models.real import REAL_NETWORKS, load_real_model  # noqa: E402
from chanpos.probes.ablation import attack_confusions, predict_labels, segmentation_parts  # noqa: E402,E501
from chanpos.probes.detection import DetectionCounts, db_boxes, detection_counts  # noqa: E402
from chanpos.probes.layers import trace_layers  # noqa: E402
from chanpos.probes.segmentation import ZONES, zone_confusions, zone_map  # noqa: E402
from chanpos.training import SegmentationTransform  # noqa: E402

LAYER = REAL_NETWORKS["ppocr-det"].layer


@pytest.fixture(scope="module")
def fold():
    cfg = attack_real_config("smoke", {"eval_samples": 6})
    inputs = prepare_attack(cfg)
    return cfg, inputs.fold(cfg.seeds[0])


@torch.no_grad()
def test_zeroing_no_channels_is_the_unattacked_network(fold) -> None:
    cfg, inputs = fold
    model, data = inputs.checkpoint_model, inputs.eval_set
    transform = SegmentationTransform(data.mean, data.std)
    x, y = transform((data.images, data.labels), False)
    scores = _DetectionScores(data, len(data), 0.3, cfg.unclip, {0, 1})
    counts = attack_confusions(segmentation_parts(model, LAYER), [(x, y)],
                               [torch.empty(0, dtype=torch.long), torch.arange(360)], 2,
                               observe=scores.observe)
    whole = model(x)["out"]
    direct = zone_confusions(predict_labels(whole, tuple(y.shape[-2:]))[None], y, 2,
                             zones=zone_map(*y.shape[-2:], y.device), num_zones=ZONES)
    assert torch.equal(counts[0], direct[0])          # nothing zeroed: the network itself
    assert not torch.equal(counts[1], counts[0])      # all 360 zeroed: the maps change
    total = DetectionCounts()
    for i in range(len(data)):
        total = total + detection_counts(db_boxes(whole[i, 1].numpy(), unclip=cfg.unclip),
                                         data.boxes[i], data.dont_care[i], x.shape[-1])["all"]
    assert scores.counts[0]["all"] == total
    assert scores.counts[1]["all"] != total


@torch.no_grad()
def test_the_detector_reads_the_default_rendered_text() -> None:
    cfg = attack_real_config("quick")
    inputs = prepare_attack(attack_real_config("quick", {"seeds": (41,)}))
    data, model = inputs.eval_set, inputs.checkpoint_model
    x = SegmentationTransform(data.mean, data.std)((data.images, data.labels), False)[0]
    prob = model(x)["out"][:, 1].numpy()
    total = DetectionCounts()
    for i in range(len(data)):
        total = total + detection_counts(db_boxes(prob[i], unclip=cfg.unclip), data.boxes[i],
                                         data.dont_care[i], x.shape[-1])["all"]
    assert total.scores()["f"] >= cfg.detection_floor


def _run(args: list[str], out: Path) -> dict:
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return json.loads(next(out.glob("*/results.json")).read_text())


def _numbers(doc: dict) -> list:
    return [(m["seed"], m["curves"], m["regions"], m["ranking"], m["detection"])
            for m in doc["models"]]


@pytest.mark.slow
def test_an_onnx_file_with_a_layer_equals_the_built_in_name(tmp_path: Path) -> None:
    built_in = _run(["attack-real", "--profile", "smoke", "--no-progress"], tmp_path / "a")
    path = REAL_NETWORKS["ppocr-det"].path()
    given = _run(["attack", "--profile", "smoke", "--model", f"onnx:{path}", "--layer", LAYER,
                  "--source", "text", "--image-size", "64,128", "--seeds", "0,1,2",
                  "--eval-samples", "4", "--rank-samples", "4", "--importance-samples", "1",
                  "--ns", "0,8,90", "--region-ns", "45", "--random-draws", "2",
                  "--unclip", "1.0", "--detection-floor", "0", "--rank-where", "all",
                  "--examples", "0", "--no-progress"], tmp_path / "b")
    assert _numbers(given) == _numbers(built_in)
    claims = [v["claim"] for v in built_in["verdicts"]]
    assert claims == ["figure4.ppocr-det", "figure6.ppocr-det"]
    assert [v["replicate"] for v in built_in["verdicts"]] == ["image fold"] * 2
    assert [v["claim"] for v in given["verdicts"]] == ["figure4.ch_PP-OCRv4_det_infer",
                                                       "figure6.ch_PP-OCRv4_det_infer"]
    report = next((tmp_path / "a").glob("*/report.md")).read_text()
    assert "Text detection" in report and "PP-OCRv4" in report


def test_layers_lists_the_shapes_the_network_produces(tmp_path: Path) -> None:
    doc = _run(["layers", "--model", "ppocr-det"], tmp_path)
    assert doc["input"] == [160, 320] and doc["layer"] == LAYER
    model, _ = load_real_model("ppocr-det", check=False)
    traced = {t.name: list(t.shape) for t in trace_layers(model, torch.zeros(1, 3, 160, 320))
              if t.is_map}
    listed = {r["layer"]: r["shape"] for r in doc["layers"] if r["shape"]}
    assert listed[LAYER] == [1, 360, 5, 10]
    assert all(listed[k] == v for k, v in traced.items() if k in listed)
    assert "deepest output" in next(tmp_path.glob("*/report.md")).read_text()


def test_a_classifier_or_a_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    for args, words in ((["--model", "ppocr-cls"], "is a classifier"),
                        (["--source", "streets"], "is attacked on --source")):
        res = CliRunner().invoke(app, ["attack-real", "--profile", "smoke", *args,
                                       "--out", str(tmp_path)])
        assert res.exit_code == 2 and words in res.output and len(
            res.output.strip().splitlines()) == 1, res.output
