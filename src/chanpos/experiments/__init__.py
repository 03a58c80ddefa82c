"""Experiments: one module per paper artefact, each turning a profile into a run folder."""

from .attack import AttackConfig, attack_config, attack_main, rank_main, run_attack
from .profiles import list_profiles, load_profile
from .runs import RunFolder, is_rank_zero
from .table1 import Table1Config, Table1Row, run_table1, table1_config, table1_main
from .table2 import Table2Config, Table2Row, run_table2, table2_config, table2_main

__all__ = [
    "AttackConfig",
    "attack_config",
    "attack_main",
    "rank_main",
    "run_attack",
    "RunFolder",
    "Table1Config",
    "Table1Row",
    "Table2Config",
    "Table2Row",
    "is_rank_zero",
    "list_profiles",
    "load_profile",
    "run_table1",
    "table1_config",
    "table1_main",
    "run_table2",
    "table2_config",
    "table2_main",
]
