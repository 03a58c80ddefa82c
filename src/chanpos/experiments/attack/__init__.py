"""Figures 4-6 of Islam et al. (ICCV 2021): find the position-encoding channels of trained
segmentation networks and attack them; `chanpos rank` audits any model's channels.

`EXPERIMENT` plugs the attack into the run lifecycle: one cell per trained model (seed):
(pretrain the backbone,) train, rank, attack; then the verdicts over models.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch

from ...models import save_model_checkpoint
from ...training import eval_device
from ..cells import run_cells
from ..lifecycle import Experiment, Outcome
from ..runs import RunFolder
from .aggregate import attack_verdicts, mean_curves
from .config import AttackConfig, attack_config
from .measure import attack_model, examples_of
from .plots import plot_attack_curve, plot_attack_examples, plot_attack_regions
from .prepare import AttackInputs, build_model, prepare_attack
from .report import attack_results, format_attack
from .train import pretrain_backbone, train_segmentation

__all__ = ["EXPERIMENT", "AttackConfig", "attack_config", "prepare_attack", "run_model",
           "run_attack"]


def run_model(seed: int, cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder
              ) -> dict[str, Any]:
    """One replicate: (pretrain,) train, rank and attack the model of `seed` -> its row."""
    root = folder.cell_dir(f"seed{seed}")
    start = time.perf_counter()
    pretrain, train_seconds = None, 0.0
    if inputs.checkpoint_model is not None:
        model = inputs.checkpoint_model
    else:
        torch.manual_seed(seed)  # the initial weights; fit() seeds training again
        model = build_model(inputs.spec)
        if inputs.pretrain_sets is not None:
            pretrain = pretrain_backbone(cfg, model, seed, inputs.pretrain_sets, root / "pretrain")
        train_seconds = train_segmentation(cfg, model, inputs.spec, inputs.train_set, seed,
                                           root / "training")
        if folder.owned:
            save_model_checkpoint(model, inputs.spec, root / "model.pt")
    device = eval_device(cfg.trainer.accelerator)
    row = attack_model(cfg, model, inputs, seed, device, log=lambda m: None)
    row["pretrain"] = pretrain
    row["seconds"].update(train=round(train_seconds, 1),
                          total=round(time.perf_counter() - start, 1))
    if cfg.examples and seed == cfg.model_seeds()[0] and folder.owned:
        plot_attack_examples(examples_of(model, inputs.val_set, row["ranking"]["absolute"], cfg,
                                         device), root / "attack_examples.png")
    return row


def _model_cell(seed: int, cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder
                ) -> dict[str, Any]:
    """One model (module level, so worker processes can call it)."""
    return run_model(seed, cfg, inputs, folder)


def run_attack(cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder, *, log=print
               ) -> list[dict[str, Any]]:
    """Every model of `cfg`, keeping models an interrupted run of `folder` already finished."""
    seeds = list(cfg.model_seeds())
    log("attacking the given model" if cfg.checkpoint else
        f"{len(seeds)} model{'s' if len(seeds) > 1 else ''} ({cfg.model}, {cfg.epochs} epochs"
        + (f", backbone pretrained on {cfg.pretrain}" if inputs.pretrain_sets else "") + ")")
    done = {f"seed{r['seed']}": r for r in folder.finished_rows()}
    worker_cfg = replace(cfg, trainer=replace(cfg.trainer, progress=False)) if cfg.jobs > 1 else cfg
    return run_cells(seeds, [f"seed{s}" for s in seeds], done, _model_cell,
                     (worker_cfg, inputs, folder), jobs=cfg.jobs, threads=cfg.threads,
                     folder=folder, record=dict, log=log,
                     describe=lambda r: f"mIoU {r['baseline_miou']['all']:.1f}, "
                                        f"{r['seconds']['total']:.0f} s")


def _run(cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder, log) -> Outcome:
    start = time.perf_counter()
    models = run_attack(cfg, inputs, folder, log=log)
    seconds = time.perf_counter() - start
    mean = mean_curves(models)
    verdicts = attack_verdicts(models)
    return Outcome(attack_results(models, mean, cfg, inputs.spec, verdicts, seconds),
                   format_attack(models, mean, cfg, inputs.spec, verdicts, seconds),
                   [lambda p: plot_attack_curve(models, mean, p / "attack_curve.png"),
                    lambda p: plot_attack_regions(models, p / "attack_regions.png")])


EXPERIMENT = Experiment(name="attack", config=attack_config, prepare=prepare_attack, run=_run)
