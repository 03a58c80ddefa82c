"""The attack as an `Experiment` of the run lifecycle: one cell per model seed."""

from __future__ import annotations

import time
from dataclasses import replace

from ...runs.folders import RunFolder
from ...runs.lifecycle import Experiment, Outcome
from .cells import run_attack
from .claims import CLAIMS, attack_verdicts, mean_curves
from .config import AttackConfig, attack_config, attack_real_config
from .plots import plot_attack_curve, plot_attack_curves_of_training, plot_attack_regions
from .prepare import AttackInputs, prepare_attack
from .report import attack_results, format_attack
from .rows import AttackModelRow

__all__ = ["EXPERIMENT"]


def _run(cfg: AttackConfig, inputs: AttackInputs, folder: RunFolder, log) -> Outcome:
    start = time.perf_counter()
    models = run_attack(cfg, inputs, folder, log=log)
    seconds = time.perf_counter() - start
    mean = mean_curves(models)
    verdicts = attack_verdicts(models, cfg)
    return Outcome(attack_results(models, mean, cfg, inputs.spec, verdicts, seconds),
                   format_attack(models, mean, cfg, inputs.spec, verdicts, seconds,
                                 network=inputs.network, layer=inputs.layer),
                   [lambda p: plot_attack_curve(models, mean, p / "attack_curve.png"),
                    lambda p: plot_attack_regions(models, p / "attack_regions.png"),
                    lambda p: plot_attack_curves_of_training(models, p / "validation_curves.png")])


def expected_claims(cfg: AttackConfig) -> set[str]:
    """Figure 4 when channels are zeroed, Figure 6 when the halves are attacked."""
    return ({"figure4"} if any(n > 0 for n in cfg.ns) else set()) | (
        {"figure6"} if cfg.region_ns else set())


EXPERIMENT = Experiment(name="attack", config=attack_config, prepare=prepare_attack, run=_run,
                        row=AttackModelRow, claims=CLAIMS, expected_claims=expected_claims)
# `chanpos attack-real`: the same attack with the profiles of a real pretrained network
REAL_EXPERIMENT = replace(EXPERIMENT, name="attack-real", config=attack_real_config)
