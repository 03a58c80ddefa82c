import torch
from torch.utils.data import TensorDataset

from chanpos.data import GridPlacement, GridPlacer, place_in_grid


def test_place_in_grid_puts_each_tile_in_its_row_major_cell() -> None:
    k, s = 3, 4
    tiles = torch.arange(1, 10).float().view(9, 1, 1, 1).expand(9, 2, s, s).contiguous()
    cells = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8]).flip(0)
    canvas = place_in_grid(tiles, cells, k)
    assert canvas.shape == (9, 2, k * s, k * s)
    for i in range(9):
        r, c = divmod(int(cells[i]), k)
        block = canvas[i, :, r * s:(r + 1) * s, c * s:(c + 1) * s]
        assert torch.all(block == i + 1)
        assert canvas[i].sum() == block.sum()  # everything else is zero


def test_placer_eval_uses_given_cells_and_location_labels() -> None:
    placer = GridPlacer(2, "location", (0.5,) * 3, (0.5,) * 3)
    tiles = torch.full((3, 3, 8, 8), 255, dtype=torch.uint8)
    x, y = placer(tiles, torch.tensor([7, 8, 9]), torch.tensor([3, 0, 1]), train=False)
    assert y.tolist() == [3, 0, 1]
    assert torch.all(x[0, :, 8:, 8:] == 1.0) and torch.all(x[0, :, :8, :] == 0)
    placer = GridPlacer(2, "object", (0.5,) * 3, (0.5,) * 3)
    _, y = placer(tiles, torch.tensor([7, 8, 9]), torch.tensor([3, 0, 1]), train=False)
    assert y.tolist() == [7, 8, 9]


def test_placer_train_draws_cells_and_flips_before_placing() -> None:
    torch.manual_seed(0)
    placer = GridPlacer(3, "location", (0.0,) * 3, (1.0,) * 3)
    tile = torch.zeros(1, 3, 4, 4)
    tile[..., 0] = 1.0  # left column lit
    x, y = placer(tile.expand(400, -1, -1, -1), torch.zeros(400), train=True)
    assert set(y.tolist()) == set(range(9))
    flipped = 0
    for i in range(400):
        r, c = divmod(int(y[i]), 3)
        block = x[i, 0, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4]
        assert block.sum() == 4  # the tile is inside the labelled cell
        flipped += int(block[:, 3].sum() == 4)
    assert 140 < flipped < 260


def test_grid_placement_dataset_yields_canvas_and_label() -> None:
    base = TensorDataset(torch.ones(5, 3, 8, 8), torch.arange(5))
    ds = GridPlacement(base, 2, "object")
    canvas, label = ds[3]
    assert canvas.shape == (3, 16, 16) and label == 3 and canvas.sum() == 3 * 64
