"""Table 1 as an `Experiment` of the run lifecycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import ChanposError
from ...runs.lifecycle import Experiment, rows_run
from .cells import run_table1
from .claims import CLAIMS, table1_verdicts
from .config import Table1Config, table1_config
from .prepare import load_table1_data
from .report import format_table1, plot_table1, plot_table1_curves, table1_results
from .rows import Table1Row, cell_id

__all__ = ["EXPERIMENT", "products"]


def products(cfg: Table1Config, folder: Path | None) -> dict[str, Any]:
    """What a Table 1 run offers other experiments: its GAPNet trained with zero padding on
    the location task of the first grid size and seed (`classifier`, the model file once the
    run has finished), with the data settings it was trained on, and its PermuteNet of the
    object task (`shuffle_trained`, a network trained with the channels shuffled)."""
    if not ("location" in cfg.tasks and "zeros" in cfg.paddings and "gapnet" in cfg.models):
        raise ChanposError("Table 1 offers its zero-padding GAPNet of the location task to "
                           "other experiments: keep location in --tasks, zeros in --paddings "
                           "and gapnet in --models")
    cell = cell_id("location", cfg.grid_sizes[0], "zeros", "gapnet", cfg.seeds[0])
    path = None if folder is None else Path(folder) / "cells" / cell / "model.pt"
    if path is not None and not path.is_file():
        raise ChanposError(f"{path} is missing: Table 1 did not write the model it offers")
    control = None  # its PermuteNet of the object task: a network trained with the shuffle
    if folder is not None and "object" in cfg.tasks and "permutenet" in cfg.models and \
            "zeros" in cfg.object_paddings:
        other = cell_id("object", cfg.object_grid_sizes[0], "zeros", "permutenet", cfg.seeds[0])
        control = Path(folder) / "cells" / other / "model.pt"
        control = str(control) if control.is_file() else None
    return {"model": "gapnet", "classifier": None if path is None else str(path),
            "shuffle_trained": control,
            # the classes that control learned: the audit's class probes ask the same question
            "classes": cfg.object_classes if control is not None else None,
            "source": cfg.source, "grid_size": cfg.grid_sizes[0], "seed": cfg.seeds[0],
            "description": f"Table 1's GAPNet ({cell})"}


def expected_claims(cfg: Table1Config) -> set[str]:
    """Table 1 judges a task when both models ran it with zero padding."""
    both = {"gapnet", "permutenet"} <= set(cfg.models)
    out = set()
    if both and "location" in cfg.tasks and "zeros" in cfg.paddings:
        out.add("table1.location")
    if both and "object" in cfg.tasks and "zeros" in cfg.object_paddings:
        out.add("table1.object")
    return out


EXPERIMENT = Experiment(
    name="table1", config=table1_config, prepare=load_table1_data, row=Table1Row,
    run=rows_run(run_table1, table1_verdicts, table1_results, format_table1,
                 lambda rows: [lambda p: plot_table1(rows, p / "table1.png"),
                               lambda p: plot_table1_curves(rows, p / "validation_curves.png")]),
    claims=CLAIMS, products=products, expected_claims=expected_claims)
