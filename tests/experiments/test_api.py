"""`chanpos.api`: the audit and the attack on a model in memory and the caller's DataLoaders,
returning the typed result the commands write (same run folder, same verdict rule)."""

import json
from pathlib import Path

import pytest
import torch
import torchvision
from torch.utils.data import DataLoader, TensorDataset

from chanpos import api
from chanpos.data import load_source
from chanpos.data.segmentation import load_segmentation_source
from chanpos.errors import ChanposError
from chanpos.models import create_model
from chanpos.verdicts import Verdict

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _loader(images: torch.Tensor, labels: torch.Tensor, batch: int = 16) -> DataLoader:
    return DataLoader(TensorDataset(images, labels), batch_size=batch)


@pytest.fixture(scope="module")
def shapes():
    train = load_source("shapes", split="train", num_samples=80)
    test = load_source("shapes", split="test", num_samples=40)
    # what torchvision's ToTensor gives: floats in [0, 1]
    return (_loader(train.images.float() / 255, train.labels),
            _loader(test.images.float() / 255, test.labels))


def test_audit_of_a_module_in_memory_returns_its_verdicts(shapes, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=10)
    result = api.audit(net, *shapes, mean=MEAN, std=STD, profile="smoke", out=tmp_path)
    assert [v.claim for v in result.verdicts] == ["audit.pooled_position",
                                                  "audit.order_carries_position"]
    assert all(isinstance(v, Verdict) and v.n == 2 for v in result.verdicts)
    assert result.verdict("audit.pooled_position").verdict in {"reproduced", "contradicted",
                                                               "inconclusive"}
    doc = json.loads((result.folder / "results.json").read_text())
    assert doc["verdicts"] == [v.as_dict() for v in result.verdicts] == result.results["verdicts"]
    assert doc["layer"] == "layer4" and doc["total_stride"] == 32 and doc["training"] is None
    assert "(given)" in doc["normalisation"] and "0.229" in doc["normalisation"]
    assert result.report == (result.folder / "report.md").read_text()
    assert result.report.startswith("# Audit of `ResNet (in memory)`")


def test_images_that_look_normalised_are_one_line(shapes) -> None:
    train, test = shapes
    normalised = _loader((next(iter(train))[0] - 0.5) / 0.25, next(iter(train))[1])
    with pytest.raises(ChanposError, match=r"give images in \[0, 1\] \(before Normalize\)"):
        api.audit(create_model("classifier", num_classes=10, width=4), normalised, test,
                  mean=MEAN, std=STD, profile="smoke")
    with pytest.raises(ChanposError, match="--probe-samples 40 asks for more"):
        api.audit(create_model("classifier", num_classes=10, width=4),
                  _loader(torch.zeros(8, 3, 32, 32), torch.arange(8) % 4), test,
                  mean=MEAN, std=STD, profile="smoke")


def test_attack_of_a_segmentation_module_in_memory(tmp_path: Path) -> None:
    val = load_segmentation_source("streets", split="val", num_samples=12, image_size=(32, 64))
    held = load_segmentation_source("streets", split="train", num_samples=6, image_size=(32, 64))
    torch.manual_seed(0)
    net = create_model("deeplabv3_small", num_classes=val.num_classes, width=4,
                       head_channels=16).eval()
    result = api.attack(net, _loader(val.images, val.labels.long(), 8),
                        _loader(held.images, held.labels.long(), 8), mean=val.mean,
                        std=val.std, class_names=val.class_names, profile="smoke",
                        out=tmp_path, name="my-deeplab")
    assert {v.claim for v in result.verdicts} == {"figure4", "figure6"}
    # one given model: its replicates are the random channel draws, as `attack --checkpoint`
    assert all(v.replicate == "random channel draw" for v in result.verdicts)
    (row,) = result.results["models"]
    assert row["num_channels"] == 32 and sorted(row["ranking"]["absolute"]) == list(range(32))
    assert row["importance_images"] == 6
    assert "my-deeplab" in result.report
    with pytest.raises(ChanposError, match="labels must be"):
        api.attack(net, _loader(val.images, val.labels[:, 0].long()), _loader(
            held.images, held.labels.long()), mean=val.mean, std=val.std,
            class_names=val.class_names, profile="smoke")
