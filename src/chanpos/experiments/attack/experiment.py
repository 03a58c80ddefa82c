"""The attack as an `Experiment` of the run lifecycle: one cell per model seed."""

from __future__ import annotations

import time

from ...models import save_model_checkpoint
from ...training import eval_device
from ..cells import init_seed, run_cells
from ..lifecycle import Experiment, Outcome
from ..runs import RunFolder
from .aggregate import attack_verdicts, mean_curves
from .config import AttackConfig, attack_config
from .measure import attack_model, examples_of
from .plots import (
    plot_attack_curve,
    plot_attack_curves_of_training,
    plot_attack_examples,
    plot_attack_regions,
)
from .prepare import AttackInputs, build_model, prepare_attack
from .report import attack_results, format_attack
from .results import AttackModelRow
from .train import pretrain_backbone, train_segmentation

__all__ = ["EXPERIMENT", "run_model", "run_attack"]


def run_model(seed: int, cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder
              ) -> AttackModelRow:
    """One replicate: (pretrain,) train, rank and attack the model of `seed` -> its row."""
    root = folder.cell_dir(f"seed{seed}")
    start = time.perf_counter()
    pretrain, training = None, None
    if inputs.checkpoint_model is not None:
        model = inputs.checkpoint_model
    else:
        init_seed(seed)
        model = build_model(inputs.spec)
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
                                         device), root / "attack_examples.png")
    row.seconds["total"] = round(time.perf_counter() - start, 1)
    return row


def run_attack(cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder, *, log=print
               ) -> list[AttackModelRow]:
    """Every model of `cfg`, keeping models an interrupted run of `folder` already finished."""
    seeds = list(cfg.model_seeds())
    log("attacking the given model" if cfg.checkpoint else
        f"{len(seeds)} model{'s' if len(seeds) > 1 else ''} ({cfg.model}, at most "
        f"{cfg.max_epochs} epochs"
        + (f", backbone pretrained on {cfg.pretrain}" if inputs.pretrain_sets else "") + ")")
    return run_cells(cfg, seeds, [f"seed{s}" for s in seeds], run_model, (inputs, folder),
                     folder=folder, row_type=AttackModelRow, key_of=lambda r: r.key, log=log,
                     describe=lambda r: f"mIoU {r.baseline_miou['all']:.1f}, "
                                        f"{r.seconds['total']:.0f} s")


def _run(cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder, log) -> Outcome:
    start = time.perf_counter()
    models = run_attack(cfg, inputs, folder, log=log)
    seconds = time.perf_counter() - start
    mean = mean_curves(models)
    verdicts = attack_verdicts(models, cfg)
    return Outcome(attack_results(models, mean, cfg, inputs.spec, verdicts, seconds),
                   format_attack(models, mean, cfg, inputs.spec, verdicts, seconds),
                   [lambda p: plot_attack_curve(models, mean, p / "attack_curve.png"),
                    lambda p: plot_attack_regions(models, p / "attack_regions.png"),
                    lambda p: plot_attack_curves_of_training(models, p / "validation_curves.png")])


EXPERIMENT = Experiment(name="attack", config=attack_config, prepare=prepare_attack, run=_run,
                        row=AttackModelRow)
