"""Table 2 as an `Experiment` of the run lifecycle."""

from __future__ import annotations

from ...runs.lifecycle import Experiment, rows_run
from .cells import run_table2
from .claims import CLAIMS, table2_verdicts
from .config import table2_config
from .prepare import load_table2_data
from .report import format_table2, plot_table2, plot_table2_curves, table2_results
from .rows import Table2Row

__all__ = ["EXPERIMENT"]

EXPERIMENT = Experiment(
    name="table2", config=table2_config, prepare=load_table2_data, row=Table2Row,
    run=rows_run(run_table2, table2_verdicts, table2_results, format_table2,
                 lambda rows: [lambda p: plot_table2(rows, p / "table2.png"),
                               lambda p: plot_table2_curves(rows, p / "validation_curves.png")]),
    claims=CLAIMS)
