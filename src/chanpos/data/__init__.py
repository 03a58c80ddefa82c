"""Data: grid placement (Table 1), the image-source registry, and segmentation sources."""

from . import (
    offline,  # noqa: F401  (registers the `digits` and `mnist` sources)
    text,  # noqa: F401  (registers the `text-crops` source)
)
from .cifar import read_cifar
from .cityscapes import CITYSCAPES_CLASSES, CityscapesSegmentation, to_train_ids
from .grid import TASKS, GridPlacement, GridPlacer, place_in_grid
from .imagefolder import FolderSet, load_image_folder
from .sampling import balanced_subset
from .segmentation import (
    SEGMENTATION_SOURCES,
    load_segmentation_source,
    read_name_list,
    select_by_names,
)
from .segmentation_set import SegmentationSet, SegmentationSource, collate_segmentation
from .shapes import SHAPE_CLASSES, make_shapes
from .sources import (
    ImageSet,
    TileDataset,
    load_source,
    register_source,
    source_kind,
    source_names,
)
from .streets import STREETS_CLASSES, load_streets, make_streets

__all__ = [
    "CITYSCAPES_CLASSES",
    "SEGMENTATION_SOURCES",
    "STREETS_CLASSES",
    "CityscapesSegmentation",
    "SegmentationSet",
    "SegmentationSource",
    "collate_segmentation",
    "load_segmentation_source",
    "load_streets",
    "make_streets",
    "read_name_list",
    "select_by_names",
    "to_train_ids",
    "source_kind",
    "source_names",
    "SHAPE_CLASSES",
    "TASKS",
    "FolderSet",
    "GridPlacement",
    "GridPlacer",
    "ImageSet",
    "TileDataset",
    "balanced_subset",
    "load_image_folder",
    "load_source",
    "make_shapes",
    "place_in_grid",
    "read_cifar",
    "register_source",
]
