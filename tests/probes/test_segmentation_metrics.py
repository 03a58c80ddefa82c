import math

import pytest
import torch

from chanpos.probes.segmentation import (
    confusion_matrix,
    miou_from_confusion,
    region_mask,
    segmentation_miou,
    zone_confusions,
    zone_map,
)

# one image, 2 x 4 pixels, 3 classes, 255 = ignore
TARGET = torch.tensor([[[0, 0, 1, 1],
                        [2, 255, 1, 2]]])
PRED = torch.tensor([[[0, 1, 1, 1],
                      [2, 0, 2, 2]]])


def test_confusion_matrix_by_hand() -> None:
    cm = confusion_matrix(PRED, TARGET, 3)
    expected = torch.tensor([[1, 1, 0],   # target 0: one right, one called 1
                             [0, 2, 1],   # target 1: two right, one called 2
                             [0, 0, 2]])  # target 2: both right; the 255 pixel is ignored
    assert torch.equal(cm, expected)


def test_miou_by_hand_with_regions() -> None:
    # all: IoU0 = 1/2, IoU1 = 2/4, IoU2 = 2/3
    assert segmentation_miou(PRED, TARGET, 3) == pytest.approx(100 * (1 / 2 + 2 / 4 + 2 / 3) / 3)
    # left half = columns 0, 1: target 0,0,2,(255); pred 0,1,2 -> IoU0 = 1/2, IoU1 = 0/1, IoU2 = 1
    left = segmentation_miou(PRED, TARGET, 3, region="left")
    assert left == pytest.approx(100 * (0.5 + 0 + 1) / 3)
    # right half = columns 2, 3: target 1,1,1,2; pred 1,1,2,2 -> class 0 absent everywhere
    assert segmentation_miou(PRED, TARGET, 3, region="right") == pytest.approx(
        100 * (2 / 3 + 1 / 2) / 2)
    # centre = columns 1, 2: (target, pred) = (0, 1), (1, 1), (1, 2); the 255 pixel is ignored
    # -> IoU0 = 0/1, IoU1 = 1/(2 + 2 - 1), IoU2 = 0/1
    assert segmentation_miou(PRED, TARGET, 3, region="center") == pytest.approx(100 / 3 / 3)
    mask = torch.tensor([[True, False, False, False], [False, False, False, False]])
    assert segmentation_miou(PRED, TARGET, 3, region=mask) == 100.0
    nothing = torch.zeros(2, 4, dtype=torch.bool)
    assert math.isnan(segmentation_miou(PRED, TARGET, 3, region=nothing))


def test_regions_and_zones() -> None:
    assert region_mask("left", 1, 5).tolist() == [[True, True, False, False, False]]
    assert region_mask("right", 1, 5).tolist() == [[False, False, False, True, True]]
    assert region_mask("center", 1, 8).tolist() == [[False, False, True, True, True, True,
                                                     False, False]]
    assert zone_map(1, 5).tolist() == [[0, 1, 4, 2, 3]]
    with pytest.raises(ValueError, match="unknown region"):
        region_mask("top", 2, 2)


def test_zone_confusions_groups_in_one_pass() -> None:
    preds = torch.stack([PRED, TARGET.clamp(max=2)])  # group 1 is perfect except the ignored px
    counts = zone_confusions(preds, TARGET, 3)
    assert counts.shape == (2, 5, 3, 3)
    assert torch.equal(counts[0].sum(0), confusion_matrix(PRED, TARGET, 3))
    assert miou_from_confusion(counts[1].sum(0)) == 100.0
    with pytest.raises(ValueError, match="predictions must lie"):
        zone_confusions(PRED + 5, TARGET, 3)


def test_miou_matches_torchmetrics_jaccard_overall_and_per_half() -> None:
    from torchmetrics.classification import MulticlassJaccardIndex

    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 5, (4, 16, 20), generator=g)
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target,
                       torch.randint(0, 5, target.shape, generator=g))
    target[0, :3] = 255  # ignored pixels
    jaccard = MulticlassJaccardIndex(num_classes=5, average="macro", ignore_index=255)
    assert segmentation_miou(pred, target, 5) == pytest.approx(100 * float(jaccard(pred, target)),
                                                               abs=1e-4)
    left = 100 * float(jaccard(pred[..., :10], target[..., :10]))
    assert segmentation_miou(pred, target, 5, region="left") == pytest.approx(left, abs=1e-4)
