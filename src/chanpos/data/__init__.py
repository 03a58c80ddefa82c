"""Data: grid placement (Claim 1) and the image-source registry."""

from .grid import TASKS, GridPlacement, GridPlacer, place_in_grid
from .shapes import SHAPE_CLASSES, make_shapes
from .sources import (
    CLASSIFICATION_SOURCES,
    ImageSet,
    TileDataset,
    load_source,
    read_cifar,
    register_source,
)

__all__ = [
    "CLASSIFICATION_SOURCES",
    "SHAPE_CLASSES",
    "TASKS",
    "GridPlacement",
    "GridPlacer",
    "ImageSet",
    "TileDataset",
    "load_source",
    "make_shapes",
    "place_in_grid",
    "read_cifar",
    "register_source",
]
