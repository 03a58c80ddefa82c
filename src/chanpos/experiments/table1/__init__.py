"""Table 1 of Islam et al. (ICCV 2021): GAPNet vs PermuteNet on the grid setting.

`EXPERIMENT` plugs Table 1 into the run lifecycle: `table1_config` resolves settings,
`run_table1` trains the cells, `report` turns rows into verdicts, report.md and the plot.
"""

from __future__ import annotations

import time
from typing import Any

from ..lifecycle import Experiment, Outcome
from ..runs import RunFolder
from .config import TABLE1_MODELS, Table1Config, TaskBudget, table1_config
from .report import format_table1, plot_table1, table1_results, table1_verdicts
from .run import Table1Row, cell_id, load_table1_data, run_table1

__all__ = ["EXPERIMENT", "TABLE1_MODELS", "TaskBudget", "Table1Config", "Table1Row", "cell_id",
           "table1_config", "load_table1_data", "run_table1", "table1_verdicts",
           "format_table1", "plot_table1", "table1_results"]


def _run(cfg: Table1Config, data: Any, folder: RunFolder, log) -> Outcome:
    start = time.perf_counter()
    rows = run_table1(cfg, data, folder, log=log)
    seconds = time.perf_counter() - start
    verdicts = table1_verdicts(rows)
    return Outcome(table1_results(rows, cfg, verdicts, seconds),
                   format_table1(rows, cfg, verdicts, seconds),
                   [lambda p: plot_table1(rows, p / "table1.png")])


EXPERIMENT = Experiment(name="table1", config=table1_config, prepare=load_table1_data, run=_run)
