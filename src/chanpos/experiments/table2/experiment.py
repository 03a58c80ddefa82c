"""Table 2 as an `Experiment` of the run lifecycle."""

from __future__ import annotations

from ...runs.lifecycle import Experiment, rows_run
from .cells import run_table2
from .claims import CLAIMS, COMPARISONS, table2_verdicts
from .config import Table2Config, table2_config
from .prepare import load_table2_data
from .report import format_table2, plot_table2, plot_table2_curves, table2_results
from .rows import Table2Row

__all__ = ["EXPERIMENT"]

def expected_claims(cfg: Table2Config) -> set[str]:
    """Table 2 judges AugShift against each of the baselines it ran, per source."""
    out = set()
    for source in cfg.sources:
        suffix = f".{source}" if len(cfg.sources) > 1 else ""
        for claim, other in COMPARISONS:
            if {"augshift", other} <= set(cfg.methods):
                out.add(claim + suffix)
    return out


EXPERIMENT = Experiment(
    name="table2", config=table2_config, prepare=load_table2_data, row=Table2Row,
    run=rows_run(run_table2, table2_verdicts, table2_results, format_table2,
                 lambda rows: [lambda p: plot_table2(rows, p / "table2.png"),
                               lambda p: plot_table2_curves(rows, p / "validation_curves.png")]),
    claims=CLAIMS, expected_claims=expected_claims)
