"""Figures 4-6 of Islam et al. (ICCV 2021): find the position-encoding channels of trained
segmentation networks and attack them; `chanpos rank` audits any model's channels.

`EXPERIMENT` (in `experiment`) plugs the attack into the run lifecycle: one cell per trained
model (seed): (pretrain the backbone,) train, rank, attack; then the verdicts over models.
Names are imported on first use (`chanpos attack --help` reads only `config`).
"""

from __future__ import annotations

from ..._lazy import lazy_attributes

_WHERE = {
    "EXPERIMENT": "experiment",
    "AttackConfig": "config",
    "attack_config": "config",
    "RankConfig": "config",
    "rank_config": "config",
    "AttackModelRow": "results",
    "prepare_attack": "prepare",
    "run_model": "experiment",
    "run_attack": "experiment",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)
