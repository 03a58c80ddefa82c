"""Text images for the detector attack: rendered words with exact ink boxes, and a real
ICDAR 2015 folder read from tiny files the test writes."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chanpos.data.text import _render_one, read_icdar2015, render_text
from chanpos.errors import ChanposError


def test_rendered_boxes_are_inside_and_tight_around_their_glyphs() -> None:
    data = render_text(12, seed=3, size=(96, 192))
    h, w = 96, 192
    for i, quads in enumerate(data.boxes):
        assert quads, "every image holds words"
        label = data.labels[i].numpy()
        filled = np.zeros((h, w), bool)
        for q in quads:
            x0, y0, x1, y1 = (int(v) for v in (q[0], q[1], q[4], q[5]))  # inclusive corners
            assert 0 <= x0 < x1 < w and 0 <= y0 < y1 < h
            filled[y0:y1 + 1, x0:x1 + 1] = True
        assert (label[filled] == 1).all() and (label[~filled] == 0).all()


def test_each_box_is_the_ink_extent_of_its_word() -> None:
    for k in range(8):
        ink = np.zeros((96, 192), bool)
        _, quads = _render_one(random.Random(f"probe{k}"), 96, 192, None, ink)
        covered = np.zeros_like(ink)
        for q in quads:
            x0, y0, x1, y1 = int(q[0]), int(q[1]), int(q[4]), int(q[5])
            covered[y0:y1 + 1, x0:x1 + 1] = True
            inside = ink[y0:y1 + 1, x0:x1 + 1]
            # tight: ink on every edge row and column of the box
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
        assert ink.any() and not (ink & ~covered).any()  # no glyph pixel outside a box


def test_left_half_images_hold_words_only_on_the_left() -> None:
    data = render_text(10, seed=1, size=(96, 192), half="left")
    for quads in data.boxes:
        assert all(q[2] < 96 for q in quads)


def test_rendering_is_seeded() -> None:
    a, b = render_text(3, seed=5), render_text(3, seed=5)
    assert (a.images == b.images).all() and a.boxes == b.boxes
    assert not (render_text(3, seed=6).images == a.images).all()


def test_icdar2015_folder(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "gts").mkdir()
    for n in (1, 2):
        Image.new("RGB", (200, 100), (200, 200, 200)).save(tmp_path / "imgs" / f"img_{n}.jpg")
    (tmp_path / "gts" / "gt_img_1.txt").write_text(
        "\ufeff10,10,60,10,60,30,10,30,HELLO\n100,50,150,50,150,90,100,90,###\n",
        encoding="utf-8")
    (tmp_path / "gts" / "gt_img_2.txt").write_text("0,0,20,0,20,20,0,20,A\n")
    data = read_icdar2015(tmp_path, size=(50, 100))
    assert data.names == ("img_1", "img_2")
    assert data.boxes[0][0] == (5.0, 5.0, 30.0, 5.0, 30.0, 15.0, 5.0, 15.0)
    assert data.dont_care[0] == (False, True)
    label = data.labels[0]
    assert int(label[10, 15]) == 1 and int(label[35, 60]) == 255 and int(label[45, 5]) == 0
    (tmp_path / "gts" / "gt_img_2.txt").write_text("1,2,three\n")
    with pytest.raises(ChanposError, match="gt_img_2.txt:1"):
        read_icdar2015(tmp_path, size=(50, 100))
    with pytest.raises(ChanposError, match="no ICDAR 2015 pairs"):
        read_icdar2015(tmp_path / "imgs", size=(50, 100))
