"""The grid setting of Islam et al., ICCV 2021, Table 1: paste a tile into one cell of a k x k
zero canvas.

Cells are numbered row-major 0 .. k*k-1. `place_in_grid` does a whole batch with one
indexed assignment (no per-sample loop); `GridPlacer` adds normalisation, the random flip
before placement and the label choice, on whatever device the batch lives; `GridPlacement`
is the per-sample Dataset view of the same thing for users who want canvases one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..names import TASKS
from ..ops.flips import draw_flips, flip_where
from ..ops.normalise import Normalise

__all__ = ["TASKS", "place_in_grid", "GridPlacer", "GridPlacement"]



def place_in_grid(tiles: Tensor, cells: Tensor, grid_size: int, rows: int | None = None
                  ) -> Tensor:
    """Paste tiles (B, C, h, w) into cells (B,) of zero canvases -> (B, C, r*h, k*w), with
    k = `grid_size` columns and r = `rows` rows (default k: a k x k grid); cell = row * k +
    column."""
    if grid_size < 1 or (rows is not None and rows < 1):
        raise ValueError(f"grid size must be >= 1, got {grid_size} x {rows}")
    b, c, h, w = tiles.shape
    k = grid_size
    r = k if rows is None else rows
    canvas = tiles.new_zeros(b, c, r, h, k, w)
    cells = cells.to(device=tiles.device, dtype=torch.long)
    # advanced indices separated by slices -> the indexed view has shape (B, C, h, w)
    canvas[torch.arange(b, device=tiles.device), :, cells // k, :, cells % k, :] = tiles
    return canvas.view(b, c, r * h, k * w)


class GridPlacer:
    """Batch transform: uint8 tiles -> normalised canvases and task labels, on their device.

    In training the cell is drawn fresh for every sample and the tile is flipped
    horizontally with probability 1/2 before placement; in evaluation the given cells are
    used and nothing is flipped, so evaluation is repeatable.
    """

    def __init__(
        self,
        grid_size: int,
        task: str,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        flip: bool = True,
        channels_last: bool = False,
    ) -> None:
        if grid_size < 1:
            raise ValueError(f"grid size must be >= 1, got {grid_size}")
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
        self.grid_size, self.task, self.flip = grid_size, task, flip
        self.normalise = Normalise(mean, std)  # uint8 or [0, 1] float tiles -> standardised
        self.channels_last = channels_last

    @property
    def num_classes(self) -> int:
        """Number of classes of the location task (k*k); object tasks use the source's."""
        return self.grid_size**2

    def __call__(
        self, tiles: Tensor, labels: Tensor, cells: Tensor | None = None, *, train: bool = True
    ) -> tuple[Tensor, Tensor]:
        """(tiles (B, C, h, w), labels (B,), cells (B,) or None) -> (canvas, target)."""
        x = self.normalise(tiles)
        b = x.shape[0]
        if train and self.flip:
            x = flip_where(x, draw_flips(b, device=x.device))
        if train or cells is None:
            cells = torch.randint(0, self.grid_size**2, (b,), device=x.device)
        canvas = place_in_grid(x, cells, self.grid_size)
        if self.channels_last:
            canvas = canvas.contiguous(memory_format=torch.channels_last)
        target = cells.to(x.device) if self.task == "location" else labels.to(x.device)
        return canvas, target.long()


class GridPlacement(Dataset):
    """Dataset wrapper: (image, label) -> (canvas, location or object label), fresh cell per load.

    `dataset` yields (image, label) with image a (C, h, w) uint8 or float tensor. The tile is
    flipped (p = 1/2, if `flip`) before placement and normalised with `mean`/`std`.
    """

    def __init__(
        self,
        dataset: Dataset,
        grid_size: int,
        task: str = "location",
        *,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        flip: bool = True,
    ) -> None:
        self.dataset = dataset
        self.placer = GridPlacer(grid_size, task, mean, std, flip=flip)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, label = self.dataset[index]
        canvas, target = self.placer(image.unsqueeze(0), torch.tensor([int(label)]), train=True)
        return canvas[0], int(target[0])
