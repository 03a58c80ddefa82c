"""The audit's one cell: train the audited chanpos classifier when no checkpoint is given."""

from __future__ import annotations

from torch import nn
from torch.utils.data import DataLoader

from ...data import TileDataset
from ...models import load_model_checkpoint, save_model_checkpoint
from ...runs.cells import init_seed
from ...runs.folders import RunFolder
from ...runs.shared import trainer_options
from ...training import ClassifierSystem, OptimConfig, fit, flip_transform, predict, train_loader
from .config import AuditConfig
from .prepare import AuditInputs
from .rows import AuditModelRow

__all__ = ["train_model", "trained_model"]


def train_model(item: int, cfg: AuditConfig, inputs: AuditInputs, folder: RunFolder
                ) -> AuditModelRow:
    """Train the audited chanpos classifier on the source to its validation plateau and save
    it as cells/model/model.pt (the audit's only cell; resumable like every cell)."""
    del item
    init_seed(cfg.seed)
    net = inputs.spec.build()
    transform = flip_transform(inputs.train.mean, inputs.train.std)
    system = ClassifierSystem(net, num_classes=inputs.train.num_classes,
                              optim=OptimConfig(lr=cfg.lr, betas=(0.9, 0.999)),
                              batch_transform=transform, model_spec=inputs.spec)
    subset = inputs.train.subset(cfg.train_samples, seed=cfg.seed)
    root = folder.cell_dir("model")
    fitted = fit(system, train_loader(TileDataset(subset), batch_size=cfg.batch_size,
                                      seed=cfg.seed, collate_fn=TileDataset.collate,
                                      num_workers=cfg.workers),
                 max_epochs=cfg.max_epochs,
                 options=trainer_options(cfg, cfg.seed, channels_last=False), root_dir=root,
                 val_loader=DataLoader(TileDataset(inputs.val), batch_size=250,
                                       collate_fn=TileDataset.collate),
                 stopping=cfg.stopping(), bn_batches=8)
    device = next(net.parameters()).device
    preds, targets = predict(net, DataLoader(TileDataset(inputs.test), batch_size=250,
                                             collate_fn=TileDataset.collate),
                             lambda b: transform(b, False), device=device, seed=cfg.seed)
    if folder.owned:
        save_model_checkpoint(net, inputs.spec, root / "model.pt")
    return AuditModelRow(cfg.seed, round(100.0 * float((preds == targets).float().mean()), 2),
                         fitted)


def trained_model(folder: RunFolder) -> nn.Module:
    """The model the audit's training cell saved."""
    return load_model_checkpoint(folder.cell_dir("model") / "model.pt")[0]
