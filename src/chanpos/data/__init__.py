"""Data: grid placement (Claim 1) and the image-source registry."""

from .cityscapes import CITYSCAPES_CLASSES, CityscapesSegmentation, to_train_ids
from .grid import TASKS, GridPlacement, GridPlacer, place_in_grid
from .segmentation import (
    SEGMENTATION_SOURCES,
    SegmentationSet,
    collate_segmentation,
    load_segmentation_source,
    read_name_list,
)
from .shapes import SHAPE_CLASSES, make_shapes
from .sources import (
    CLASSIFICATION_SOURCES,
    ImageSet,
    TileDataset,
    load_source,
    read_cifar,
    register_source,
)
from .streets import STREETS_CLASSES, load_streets, make_streets

__all__ = [
    "CITYSCAPES_CLASSES",
    "SEGMENTATION_SOURCES",
    "STREETS_CLASSES",
    "CityscapesSegmentation",
    "SegmentationSet",
    "collate_segmentation",
    "load_segmentation_source",
    "load_streets",
    "make_streets",
    "read_name_list",
    "to_train_ids",
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
