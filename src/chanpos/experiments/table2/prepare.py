"""Table 2's data, loaded and checked before any run folder exists."""

from __future__ import annotations

from ...data import ImageSet, load_source, source_kind
from ...data.imagefolder import FolderSet, load_image_folder
from ...ops.shifts import check_in_view, check_shift
from ...runs.validate import require_at_most, require_batches, require_holdout
from .config import Table2Config

__all__ = ["Images", "load_table2_data", "image_size"]

Images = ImageSet | FolderSet


def image_size(images: Images) -> tuple[int, int]:
    if isinstance(images, FolderSet):
        return images.size, images.size
    return int(images.images.shape[-2]), int(images.images.shape[-1])


def load_table2_data(cfg: Table2Config) -> dict[str, tuple[Images, Images, Images]]:
    """(training split less the validation split, validation split, test split) of every
    source (errors here come before any run folder exists)."""
    data: dict[str, tuple[Images, Images, Images]] = {}
    for source in cfg.sources:
        if source_kind(source) == "folder":
            train: Images = load_image_folder(cfg.data_root, "train", name=source)
            test: Images = load_image_folder(cfg.data_root, "val", name=source,
                                             num_samples=cfg.test_samples, seed=0)
        else:
            train = load_source(source, split="train", data_root=cfg.data_root,
                                download=cfg.download)
            test = load_source(source, split="test", data_root=cfg.data_root,
                               num_samples=cfg.test_samples)
        size = image_size(train)
        check_shift(cfg.max_shift, cfg.shift_mode, size)
        check_in_view(cfg.max_shift, size, f"{source} images")
        require_holdout(cfg.val_samples, len(train), flag="--val-samples", source=source)
        rest, val = train.holdout(cfg.val_samples)
        require_at_most(cfg.train_samples, len(rest), flag="--train-samples",
                        what=f"{source} training images (less --val-samples)")
        require_at_most(cfg.test_samples, len(test), flag="--test-samples",
                        what=f"{source} test images")
        rest = rest.subset(cfg.train_samples)
        require_batches(len(rest), cfg.batch_size, what="training", samples_flag="--train-samples")
        data[source] = (rest, val, test)
    return data
