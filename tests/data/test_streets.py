import pytest
import torch

from chanpos.data import STREETS_CLASSES, collate_segmentation, load_streets, make_streets
from chanpos.data.streets import BUILDING, ROAD, SIDEWALK, SKY, VEGETATION


def test_deterministic_any_resolution_and_classes() -> None:
    a, la = make_streets(24, seed=3)
    b, lb = make_streets(24, seed=3)
    c, _ = make_streets(24, seed=4)
    assert torch.equal(a, b) and torch.equal(la, lb) and not torch.equal(a, c)
    assert a.shape == (24, 3, 64, 128) and a.dtype == torch.uint8 and la.dtype == torch.uint8
    assert set(la.unique().tolist()) == set(range(len(STREETS_CLASSES)))
    small, ls = make_streets(3, height=40, width=72, seed=0)
    assert small.shape == (3, 3, 40, 72) and ls.shape == (3, 40, 72)
    with pytest.raises(ValueError):
        make_streets(0)


def test_layout_depends_on_position() -> None:
    _, lab = make_streets(64, seed=1)
    h, w = lab.shape[-2:]

    def share(cls: int, rows: slice, cols: slice) -> float:
        return float((lab[:, rows, cols] == cls).float().mean())

    assert share(SKY, slice(0, h // 8), slice(None)) > 0.5  # sky on top
    assert share(ROAD, slice(h - h // 8, h), slice(w // 4, 3 * w // 4)) > 0.5  # road at the bottom
    left, right = slice(0, w // 2), slice(w // 2, w)
    assert share(BUILDING, slice(None), right) > 3 * share(BUILDING, slice(None), left)
    assert share(VEGETATION, slice(None), left) > 3 * share(VEGETATION, slice(None), right)
    assert share(SIDEWALK, slice(None), right) > share(SIDEWALK, slice(None), left)
    _, mirrored = make_streets(64, seed=1, mirror=1.0)
    assert torch.equal(mirrored, lab.flip(-1))


def test_same_texture_paints_road_and_sidewalk_alike() -> None:
    def colour_gap(same: bool) -> float:
        img, lab = make_streets(32, seed=2, same_texture=same, noise=0.0)
        gaps = []
        for i in range(32):
            road, walk = lab[i] == ROAD, lab[i] == SIDEWALK
            if road.sum() > 50 and walk.sum() > 50:
                x = img[i].float()
                gaps.append(float((x[:, road].mean(1) - x[:, walk].mean(1)).abs().max()))
        return sum(gaps) / len(gaps)

    assert colour_gap(True) < 12 < colour_gap(False)


def test_load_streets_splits_and_batches() -> None:
    tr = load_streets(split="train", num_samples=10, height=32, width=64)
    va = load_streets(split="val", num_samples=10, height=32, width=64)
    assert not torch.equal(tr.images, va.images) and va.names[3] == "streets_val_00003"
    images, labels = collate_segmentation(va.__getitems__([0, 2, 5]))
    assert images.shape == (3, 3, 32, 64) and torch.equal(labels[1], va.labels[2])
    assert va.num_classes == 8 and len(va.subset(4)) == 4
