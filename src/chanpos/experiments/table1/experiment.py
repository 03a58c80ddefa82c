"""Table 1 as an `Experiment` of the run lifecycle."""

from __future__ import annotations

from ..lifecycle import Experiment, rows_run
from .config import table1_config
from .report import format_table1, plot_table1, plot_table1_curves, table1_results, table1_verdicts
from .run import Table1Row, load_table1_data, run_table1

__all__ = ["EXPERIMENT"]

EXPERIMENT = Experiment(
    name="table1", config=table1_config, prepare=load_table1_data, row=Table1Row,
    run=rows_run(run_table1, table1_verdicts, table1_results, format_table1,
                 lambda rows: [lambda p: plot_table1(rows, p / "table1.png"),
                               lambda p: plot_table1_curves(rows, p / "validation_curves.png")]))
