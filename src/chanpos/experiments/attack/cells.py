"""The attack's cells: one per model seed, (pretrain,) train, rank and attack its model."""

from __future__ import annotations

import time

from ...models import save_model_checkpoint
from ...ops import eval_device
from ...runs.cells import init_seed, run_cells
from ...runs.folders import RunFolder
from .config import AttackConfig
from .measure import attack_model, examples_of
from .plots import plot_attack_examples
from .prepare import AttackInputs
from .rows import AttackModelRow
from .train import pretrain_backbone, train_segmentation

__all__ = ["run_model", "run_attack"]


def run_model(seed: int, cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder
              ) -> AttackModelRow:
    """One replicate: (pretrain,) train, rank and attack the model of `seed` -> its row."""
    root = folder.cell_dir(f"seed{seed}")
    start = time.perf_counter()
    inputs = inputs.fold(seed)  # a real network: this seed's own fold of images
    pretrain, training = None, None
    if inputs.checkpoint_model is not None:
        model = inputs.checkpoint_model
    else:
        init_seed(seed)
        model = inputs.spec.build()
        if inputs.pretrain_sets is not None:
            pretrain = pretrain_backbone(cfg, model, seed, inputs.pretrain_sets, root / "pretrain")
        training = train_segmentation(cfg, model, inputs.spec, inputs.train_set, inputs.val_set,
                                      seed, root / "training")
        if folder.owned:
            save_model_checkpoint(model, inputs.spec, root / "model.pt")
    device = eval_device(cfg.accelerator)
    row = attack_model(cfg, model, inputs, seed, device, training=training, pretrain=pretrain,
                       seconds={"train": training.seconds if training else 0.0},
                       log=lambda m: None)
    if cfg.examples and seed == cfg.model_seeds()[0] and folder.owned:
        plot_attack_examples(examples_of(model, inputs.eval_set, row.ranking.absolute, cfg,
                                         device, inputs.layer), root / "attack_examples.png")
    row.seconds["total"] = round(time.perf_counter() - start, 1)
    return row


def run_attack(cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder, *, log=print
               ) -> list[AttackModelRow]:
    """Every model of `cfg`, keeping models an interrupted run of `folder` already finished."""
    seeds = list(cfg.model_seeds())
    log(f"attacking {cfg.model} as it is, one fold of images per seed ({len(seeds)})"
        if inputs.network is not None else "attacking the given model" if cfg.checkpoint else
        f"{len(seeds)} model{'s' if len(seeds) > 1 else ''} ({cfg.model}, at most "
        f"{cfg.max_epochs} epochs"
        + (f", backbone pretrained on {cfg.pretrain}" if inputs.pretrain_sets else "") + ")")
    return run_cells(cfg, seeds, [f"seed{s}" for s in seeds], run_model, (inputs, folder),
                     folder=folder, row_type=AttackModelRow, key_of=lambda r: r.key, log=log,
                     describe=lambda r: f"mIoU {r.baseline_miou['all']:.1f}, "
                                        f"{r.seconds['total']:.0f} s")
