"""Table 2's cells: train one ResNet-18 GAP classifier per {source, method, seed} and measure
top-1 and shift consistency with one fixed shift protocol (Islam et al., ICCV 2021, Table 2).

Methods share data, augmentation and schedule; a seed fixes the initial weights and, through
the per-epoch reseeding of `chanpos.training.seeding`, the data order, so `baseline` and
`augshift` of one seed differ only in the loss (paired replicates).
- `baseline`: cross-entropy on one shifted (pad-then-crop) + flipped view per image;
- `augshift`: the paper's loss on two independently shifted views of each image;
- `blurpool`: the baseline on an anti-aliased ResNet (Zhang 2019; kornia's BlurPool2D);
- `blurpool+augshift`: both;
- `baseline-2x`: the baseline seeing every image twice per epoch (two independently shifted
  views as separate steps): AugShift's image forwards per epoch, under the same plateau rule.

Every run trains until its validation top-1 plateaus (`chanpos.runs.plateau.PlateauSettings`) on images
held out of the training split.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ...data import TileDataset
from ...data.imagefolder import FolderSet
from ...models import ModelSpec, save_model_checkpoint, to_channels_last
from ...ops import eval_device, random_shift
from ...probes.invariance import shift_consistency
from ...runs.cells import init_seed, run_cells
from ...runs.folders import RunFolder
from ...runs.shared import trainer_options
from ...training import AugShiftSystem, ClassifierSystem, OptimConfig, fit, flip_transform, train_loader
from .config import TABLE2_METHODS, Table2Config
from .prepare import Images, image_size
from .rows import Table2Row, cell_id

__all__ = ["Augment", "run_cell", "run_table2"]


def _items(images: Images, seed: int = 0):
    """The (uint8 image, label, cell) dataset of an image set."""
    return images.dataset if isinstance(images, FolderSet) else TileDataset(images, seed=seed)


class Augment:
    """Device-side batch transform: uint8 -> normalised; in training flip and (optionally) shift."""

    def __init__(self, images: Images, *, flip: bool, max_shift: int, shift_mode: str,
                 shift: bool) -> None:
        self.base = flip_transform(images.mean, images.std, flip=flip)
        self.max_shift, self.shift_mode, self.shift = max_shift, shift_mode, shift

    def __call__(self, batch: Any, train: bool) -> tuple[Tensor, Tensor]:
        x, y = self.base(batch, train)
        if train and self.shift:
            x = random_shift(x, self.max_shift, self.shift_mode)
        return x, y


def run_cell(cell: tuple[str, str, int], cfg: Table2Config,
             data: dict[str, tuple[Images, Images, Images]], folder: RunFolder) -> Table2Row:
    """Train one (source, method, seed) run to its plateau (resuming where an interrupted run
    stopped) and measure top-1 and shift consistency on the test split."""
    source, method, seed = cell
    train, val, test = data[source]
    spec_m = TABLE2_METHODS[method]
    backbone = cfg.backbone_of(source)
    kwargs: dict[str, Any] = {
        "backbone": backbone, "num_classes": train.num_classes, "padding": "zeros",
        "antialias": cfg.blur_size if spec_m.antialias else 0,
    }
    if backbone == "paper_resnet18":
        kwargs["width"] = cfg.width
    spec = ModelSpec("classifier", kwargs).with_meta(
        source=source, image_size=image_size(train), mean=tuple(train.mean),
        std=tuple(train.std))
    init_seed(seed)
    model = spec.build()
    channels_last = to_channels_last(model, cfg.channels_last)
    optim = OptimConfig(optimizer=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        schedule=cfg.schedule)
    augment = Augment(train, flip=cfg.flip, max_shift=cfg.max_shift, shift_mode=cfg.shift_mode,
                      shift=not spec_m.augshift)
    common = dict(num_classes=train.num_classes, optim=optim, batch_transform=augment,
                  model_spec=spec, channels_last=channels_last)
    system = (AugShiftSystem(model, lam=cfg.lam, max_shift=cfg.max_shift,
                             shift_mode=cfg.shift_mode, **common) if spec_m.augshift
              else ClassifierSystem(model, **common))
    pin = torch.cuda.is_available()
    dl_train = train_loader(_items(train, seed), batch_size=cfg.batch_size, seed=seed,
                            collate_fn=TileDataset.collate, num_workers=cfg.workers,
                            drop_last=len(train) > cfg.batch_size, repeats=spec_m.repeats)
    eval_batch = max(cfg.batch_size, 250)
    dl_val = DataLoader(_items(val), batch_size=eval_batch, collate_fn=TileDataset.collate,
                        num_workers=cfg.workers, pin_memory=pin)
    root = folder.cell_dir(cell_id(*cell))
    start = time.perf_counter()
    fitted = fit(system, dl_train, max_epochs=cfg.max_epochs,
                 options=trainer_options(cfg, seed, channels_last=channels_last), root_dir=root,
                 val_loader=dl_val, stopping=cfg.stopping(), bn_batches=cfg.bn_batches)
    device = eval_device(cfg.accelerator)
    model = system.model.to(device)
    test_loader = DataLoader(_items(test), batch_size=eval_batch, collate_fn=TileDataset.collate,
                             num_workers=cfg.workers, pin_memory=pin)
    batches = (augment(b, False) for b in test_loader)  # evaluation: normalised only
    result = shift_consistency(model, batches, cfg.max_shift, cfg.shift_mode, pairs=cfg.pairs,
                               seed=cfg.eval_seed, device=device)
    if folder.owned:
        save_model_checkpoint(model, spec, root / "model.pt")
    return Table2Row(
        method=method, source=source, seed=seed, top1_pct=round(result["top1_pct"], 2),
        consistency_pct=round(result["consistency_pct"], 2), max_shift=cfg.max_shift,
        shift_mode=cfg.shift_mode, lam=cfg.lam if spec_m.augshift else None,
        training=fitted, seconds=round(time.perf_counter() - start, 1),
    )


def run_table2(cfg: Table2Config, data: dict[str, tuple[Images, Images, Images]],
               folder: RunFolder, *, log=print) -> list[Table2Row]:
    """Run every cell of `cfg`, keeping cells an interrupted run of `folder` already finished."""
    cells = cfg.cells()
    return run_cells(cfg, cells, [cell_id(*c) for c in cells], run_cell, (data, folder),
                     folder=folder, row_type=Table2Row, key_of=lambda r: r.key, log=log,
                     describe=lambda r: f"top-1 {r.top1_pct:.2f} %, consistency "
                                        f"{r.consistency_pct:.2f} % ({r.training.epochs} epochs"
                                        f"{'' if r.training.plateaued else ', no plateau'}, "
                                        f"{r.seconds:.0f} s)")
