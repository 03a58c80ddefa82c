"""Experiments: one module per paper artefact, each turning a profile into a run folder."""

from .profiles import list_profiles, load_profile
from .runs import RunFolder, is_rank_zero
from .table1 import Table1Config, Table1Row, run_table1, table1_config, table1_main

__all__ = [
    "RunFolder",
    "Table1Config",
    "Table1Row",
    "is_rank_zero",
    "list_profiles",
    "load_profile",
    "run_table1",
    "table1_config",
    "table1_main",
]
