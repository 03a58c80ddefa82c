"""Table 2 as an `Experiment` of the run lifecycle."""

from __future__ import annotations

from ..lifecycle import Experiment, rows_run
from .config import table2_config
from .report import format_table2, plot_table2, plot_table2_curves, table2_results, table2_verdicts
from .run import Table2Row, load_table2_data, run_table2

__all__ = ["EXPERIMENT"]

EXPERIMENT = Experiment(
    name="table2", config=table2_config, prepare=load_table2_data, row=Table2Row,
    run=rows_run(run_table2, table2_verdicts, table2_results, format_table2,
                 lambda rows: [lambda p: plot_table2(rows, p / "table2.png"),
                               lambda p: plot_table2_curves(rows, p / "validation_curves.png")]))
