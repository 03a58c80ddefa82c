"""Table 2 of Islam et al. (ICCV 2021): AugShift vs the baseline, BlurPool and equal compute.

`EXPERIMENT` plugs Table 2 into the run lifecycle: `table2_config` resolves settings,
`run_table2` trains the cells, `report` turns rows into verdicts, report.md and the plot.
"""

from __future__ import annotations

import time
from typing import Any

from ..lifecycle import Experiment, Outcome
from ..runs import RunFolder
from .config import FOLDER_SOURCES, TABLE2_METHODS, MethodSpec, Table2Config, table2_config
from .report import (
    PAPER_TABLE2,
    format_table2,
    paired,
    plot_table2,
    summarise_table2,
    table2_results,
    table2_verdicts,
)
from .run import Augment, Table2Row, cell_id, load_table2_data, run_table2

__all__ = ["EXPERIMENT", "FOLDER_SOURCES", "PAPER_TABLE2", "TABLE2_METHODS", "Augment",
           "MethodSpec", "Table2Config", "Table2Row", "cell_id", "format_table2",
           "load_table2_data", "paired", "plot_table2", "run_table2", "summarise_table2",
           "table2_config", "table2_results", "table2_verdicts"]


def _run(cfg: Table2Config, data: Any, folder: RunFolder, log) -> Outcome:
    start = time.perf_counter()
    rows = run_table2(cfg, data, folder, log=log)
    seconds = time.perf_counter() - start
    verdicts = table2_verdicts(rows)
    return Outcome(table2_results(rows, cfg, verdicts, seconds),
                   format_table2(rows, cfg, verdicts, seconds),
                   [lambda p: plot_table2(rows, p / "table2.png")])


EXPERIMENT = Experiment(name="table2", config=table2_config, prepare=load_table2_data, run=_run)
