"""Table 2 of Islam et al. (ICCV 2021): AugShift vs the baseline, BlurPool and equal compute.

`EXPERIMENT` plugs Table 2 into the run lifecycle: `table2_config` resolves settings,
`run_table2` trains the cells, `report` turns rows into verdicts, report.md and the plots.
Names are imported on first use (`chanpos table2 --help` reads only `config`).
"""

from __future__ import annotations

from ..._lazy import lazy_attributes

_WHERE = {
    "EXPERIMENT": "experiment",
    "TABLE2_METHODS": "config",
    "MethodSpec": "config",
    "Table2Config": "config",
    "table2_config": "config",
    "Augment": "run",
    "Table2Row": "run",
    "cell_id": "run",
    "load_table2_data": "run",
    "run_table2": "run",
    "PAPER_TABLE2": "report",
    "format_table2": "report",
    "paired": "report",
    "plot_table2": "report",
    "summarise_table2": "report",
    "table2_results": "report",
    "table2_verdicts": "report",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)
