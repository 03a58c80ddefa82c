"""Table 1 of Islam et al. (ICCV 2021): GAPNet vs PermuteNet on the grid setting.

`EXPERIMENT` plugs Table 1 into the run lifecycle: `table1_config` resolves settings,
`run_table1` trains the cells, `report` turns rows into verdicts, report.md and the plots.
Names are imported on first use (`chanpos table1 --help` reads only `config`).
"""

from __future__ import annotations

from ..._lazy import lazy_attributes

_WHERE = {
    "EXPERIMENT": "experiment",
    "TABLE1_MODELS": "config",
    "Table1Config": "config",
    "table1_config": "config",
    "Table1Row": "run",
    "cell_id": "run",
    "load_table1_data": "run",
    "run_table1": "run",
    "table1_verdicts": "report",
    "format_table1": "report",
    "plot_table1": "report",
    "table1_results": "report",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_attributes(__name__, _WHERE)
