"""The text-detection metric on hand-made maps: DB boxes, one-to-one IoU matching, halves,
don't-care boxes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("shapely")

from chanpos.probes.detection import DetectionCounts, db_boxes, detection_counts  # noqa: E402


def _quad(x0: float, y0: float, x1: float, y1: float) -> tuple[float, ...]:
    return (x0, y0, x1, y0, x1, y1, x0, y1)


def _map() -> np.ndarray:
    prob = np.zeros((40, 100), np.float32)
    # DB marks a shrunk kernel of each word; its boxes grow back by area x unclip / perimeter
    prob[12:18, 10:30] = 0.9  # the word 5..34 x 10..19, on the left
    prob[23:28, 64:86] = 0.8  # the word 60..89 x 21..30, on the right
    prob[2:4, 50:52] = 0.9    # a speck: below the minimum size
    return prob


def test_db_boxes_find_each_region() -> None:
    boxes = db_boxes(_map(), unclip=1.0)
    assert len(boxes) == 2
    xs = sorted(float(np.asarray(b)[:, 0].min()) for b in boxes)
    assert 5 < xs[0] < 10 and 60 < xs[1] < 64  # grown by area x unclip / perimeter
    assert db_boxes(_map() * 0.4, box_thresh=0.5) == []  # above thresh, below box_thresh


def test_matching_counts_per_half() -> None:
    truth = [_quad(5, 10, 34, 19), _quad(60, 21, 89, 30), _quad(40, 30, 45, 38)]
    got = detection_counts(db_boxes(_map(), unclip=1.0), truth, [False, False, False], 100)
    assert got["all"] == DetectionCounts(matched=2, detected=2, truth=3)
    assert got["left"] == DetectionCounts(matched=1, detected=1, truth=2)
    assert got["right"] == DetectionCounts(matched=1, detected=1, truth=1)
    assert got["all"].scores() == {"precision": 100.0, "recall": 66.67, "f": 80.0}


def test_a_dont_care_box_neither_counts_nor_punishes() -> None:
    truth = [_quad(5, 10, 34, 19), _quad(60, 21, 89, 30)]
    got = detection_counts(db_boxes(_map(), unclip=1.0), truth, [False, True], 100)["all"]
    assert got == DetectionCounts(matched=1, detected=1, truth=1)


def test_a_shifted_box_below_half_overlap_does_not_match() -> None:
    truth = [_quad(22, 10, 51, 19)]  # the word shifted by 17 px: IoU < 0.5
    got = detection_counts(db_boxes(_map(), unclip=1.0)[:1], truth, [False], 100)["all"]
    assert got.matched == 0 and DetectionCounts().scores()["f"] == 0.0
