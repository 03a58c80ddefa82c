"""Random horizontal flips: only the drawn samples are mirrored, images and labels alike."""

import torch

from chanpos.ops import draw_flips, flip_where


def test_flip_where_mirrors_exactly_the_flagged_samples() -> None:
    x = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).view(2, 3, 2, 4)
    y = torch.arange(2 * 2 * 4).view(2, 2, 4)
    flips = torch.tensor([True, False])
    fx, fy = flip_where(x, flips), flip_where(y, flips)
    assert torch.equal(fx[0], x[0].flip(-1)) and torch.equal(fx[1], x[1])
    assert torch.equal(fy[0], y[0].flip(-1)) and torch.equal(fy[1], y[1])
    assert fx[0, 0, 0].tolist() == [3.0, 2.0, 1.0, 0.0]


def test_draw_flips_is_one_uniform_draw_each_below_p() -> None:
    g = torch.Generator().manual_seed(5)
    expected = torch.rand(1000, generator=torch.Generator().manual_seed(5)) < 0.3
    flips = draw_flips(1000, 0.3, generator=g)
    assert torch.equal(flips, expected) and 200 < int(flips.sum()) < 400
    assert not draw_flips(50, 0.0).any() and draw_flips(50, 1.0).all()
