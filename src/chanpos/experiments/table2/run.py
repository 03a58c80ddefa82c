"""Table 2's cells: train one ResNet-18 GAP classifier per {source, method, seed} and measure
top-1 and shift consistency with one fixed shift protocol (Islam et al., ICCV 2021, Table 2).

Methods share data, augmentation and schedule; a seed fixes the initial weights and, through
the per-epoch reseeding of `chanpos.training.seeding`, the data order, so `baseline` and
`augshift` of one seed differ only in the loss (paired replicates).
- `baseline`: cross-entropy on one shifted (pad-then-crop) + flipped view per image;
- `augshift`: the paper's loss on two independently shifted views of each image;
- `blurpool`: the baseline on an anti-aliased ResNet (Zhang 2019; kornia's BlurPool2D);
- `blurpool+augshift`: both;
- `baseline-2x`: the baseline for twice the epochs, the same compute as AugShift's two views.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ...data import ImageSet, TileDataset, load_source
from ...data.imagefolder import FolderSet, load_image_folder
from ...models import channels_last_ok, create_model, save_model_checkpoint
from ...ops import Normalise, check_shift, random_shift
from ...probes.invariance import shift_consistency
from ...training import (
    AugShiftSystem,
    ClassifierSystem,
    OptimConfig,
    eval_device,
    fit,
    train_loader,
)
from ..cells import run_cells
from ..runs import RunFolder
from .config import FOLDER_SOURCES, TABLE2_METHODS, Table2Config

__all__ = ["Images", "Table2Row", "Augment", "cell_id", "load_table2_data", "run_cell",
           "run_table2"]

Images = ImageSet | FolderSet


@dataclass(frozen=True)
class Table2Row:
    """One training run's result; `as_dict()` is the results.json row."""

    method: str
    source: str
    seed: int
    top1_pct: float
    consistency_pct: float
    max_shift: int
    shift_mode: str
    lam: float | None
    epochs: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The row with the key `lambda` (None for methods without the AugShift loss)."""
        d = asdict(self)
        d["lambda"] = d.pop("lam")
        return {k: d[k] for k in ("method", "source", "seed", "top1_pct", "consistency_pct",
                                  "max_shift", "shift_mode", "lambda", "epochs", "seconds")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Table2Row:
        """Inverse of `as_dict` (rows of an interrupted run)."""
        d = dict(d)
        d["lam"] = d.pop("lambda")
        return cls(**d)


def _image_size(images: Images) -> tuple[int, int]:
    if isinstance(images, FolderSet):
        return images.size, images.size
    return int(images.images.shape[-2]), int(images.images.shape[-1])


def load_table2_data(cfg: Table2Config) -> dict[str, tuple[Images, Images]]:
    """Train and test sets of every source (errors here come before any run folder exists)."""
    data: dict[str, tuple[Images, Images]] = {}
    for source in cfg.sources:
        if source in FOLDER_SOURCES:
            train: Images = load_image_folder(cfg.data_root, "train", name=source,
                                              num_samples=cfg.train_samples, seed=0)
            test: Images = load_image_folder(cfg.data_root, "val", name=source,
                                             num_samples=cfg.test_samples, seed=0)
        else:
            train = load_source(source, split="train", data_root=cfg.data_root,
                                download=cfg.download, num_samples=cfg.train_samples)
            test = load_source(source, split="test", data_root=cfg.data_root,
                               num_samples=cfg.test_samples)
        check_shift(cfg.max_shift, cfg.shift_mode, _image_size(train))
        data[source] = (train, test)
    return data


def _items(images: Images, seed: int = 0):
    """The (uint8 image, label, cell) dataset of an image set."""
    return images.dataset if isinstance(images, FolderSet) else TileDataset(images, seed=seed)


class Augment:
    """Device-side batch transform: uint8 -> normalised; in training flip and (optionally) shift."""

    def __init__(self, images: Images, *, flip: bool, max_shift: int, shift_mode: str,
                 shift: bool) -> None:
        self.normalise = Normalise(images.mean, images.std)
        self.flip, self.max_shift, self.shift_mode, self.shift = flip, max_shift, shift_mode, shift

    def __call__(self, batch: Any, train: bool) -> tuple[Tensor, Tensor]:
        x, y = self.normalise(batch[0]), batch[1].long()
        if train and self.flip:
            b = x.shape[0]
            flip = torch.rand(b, device=x.device) < 0.5
            x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
        if train and self.shift:
            x = random_shift(x, self.max_shift, self.shift_mode)
        return x, y


def cell_id(source: str, method: str, seed: int) -> str:
    """Stable folder name of one training run."""
    return f"{source}-{method.replace('+', '_')}-seed{seed}"


def run_cell(cfg: Table2Config, cell: tuple[str, str, int], train: Images, test: Images,
             folder: RunFolder) -> Table2Row:
    """Train and evaluate one (source, method, seed) run (resuming its last completed epoch)."""
    source, method, seed = cell
    spec_m = TABLE2_METHODS[method]
    backbone = cfg.backbone_of(source)
    kwargs: dict[str, Any] = {
        "backbone": backbone, "num_outputs": train.num_classes, "padding": "zeros",
        "antialias": cfg.blur_size if spec_m.antialias else 0,
    }
    if backbone == "paper_resnet18":
        kwargs["width"] = cfg.width
    spec = {"name": "classifier", "kwargs": kwargs}
    torch.manual_seed(seed)  # model init; fit() seeds everything again for training
    model = create_model("classifier", **kwargs)
    opts = replace(cfg.trainer, seed=seed)
    opts = replace(opts, channels_last=opts.channels_last and channels_last_ok(model))
    if opts.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optim = OptimConfig(optimizer=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        schedule=cfg.schedule)
    augment = Augment(train, flip=cfg.flip, max_shift=cfg.max_shift, shift_mode=cfg.shift_mode,
                      shift=not spec_m.augshift)
    common = dict(num_classes=train.num_classes, optim=optim, batch_transform=augment,
                  model_spec=spec, channels_last=opts.channels_last)
    system = (AugShiftSystem(model, lam=cfg.lam, max_shift=cfg.max_shift,
                             shift_mode=cfg.shift_mode, **common) if spec_m.augshift
              else ClassifierSystem(model, **common))
    pin = torch.cuda.is_available()
    dl_train = train_loader(_items(train, seed), batch_size=cfg.batch_size, seed=seed,
                            collate_fn=TileDataset.collate, num_workers=cfg.num_workers,
                            drop_last=len(train) > cfg.batch_size)
    root = folder.cell_dir(cell_id(*cell))
    epochs = cfg.epochs_of(method)
    start = time.perf_counter()
    fit(system, dl_train, epochs=epochs, options=opts, root_dir=root, bn_batches=cfg.bn_batches)
    device = eval_device(opts.accelerator)
    model = system.model.to(device)
    test_loader = DataLoader(_items(test), batch_size=max(cfg.batch_size, 250),
                             collate_fn=TileDataset.collate, num_workers=cfg.num_workers,
                             pin_memory=pin)
    batches = ((augment.normalise(b[0]), b[1]) for b in test_loader)
    result = shift_consistency(model, batches, cfg.max_shift, cfg.shift_mode, pairs=cfg.pairs,
                               seed=cfg.eval_seed, device=device)
    if folder.owned:
        save_model_checkpoint(model, spec, root / "model.pt")
    return Table2Row(
        method=method, source=source, seed=seed, top1_pct=round(result["top1_pct"], 2),
        consistency_pct=round(result["consistency_pct"], 2), max_shift=cfg.max_shift,
        shift_mode=cfg.shift_mode, lam=cfg.lam if spec_m.augshift else None, epochs=epochs,
        seconds=round(time.perf_counter() - start, 1),
    )


def _table2_cell(cell: tuple[str, str, int], cfg: Table2Config,
                 data: dict[str, tuple[Images, Images]], folder: RunFolder) -> Table2Row:
    """One run (module level, so worker processes can call it)."""
    return run_cell(cfg, cell, *data[cell[0]], folder)


def run_table2(cfg: Table2Config, data: dict[str, tuple[Images, Images]], folder: RunFolder, *,
               log=print) -> list[Table2Row]:
    """Run every cell of `cfg`, keeping cells an interrupted run of `folder` already finished."""
    done = {cell_id(row.source, row.method, row.seed): row
            for row in map(Table2Row.from_dict, folder.finished_rows())}
    cells = cfg.cells()
    worker_cfg = replace(cfg, trainer=replace(cfg.trainer, progress=False)) if cfg.jobs > 1 else cfg
    return run_cells(cells, [cell_id(*c) for c in cells], done, _table2_cell,
                     (worker_cfg, data, folder), jobs=cfg.jobs, threads=cfg.threads,
                     folder=folder, record=Table2Row.as_dict, log=log,
                     describe=lambda r: f"top-1 {r.top1_pct:.2f} %, consistency "
                                        f"{r.consistency_pct:.2f} % ({r.epochs} epochs, "
                                        f"{r.seconds:.0f} s)")
