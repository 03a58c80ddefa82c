"""Are Table 1's or Table 2's models really at their plateau? Train every cell of a finished
run on for 50 % more epochs (from its own last checkpoint, at its last learning rate, with the
plateau rule switched off) and compare the test metrics with the ones the verdict used.

    chanpos table1 --tasks object --seeds 41,42,43,44 --keep-checkpoints --out runs/check
    python benchmarks/plateau_check.py runs/check/table1-<stamp> [--longer 0.5] [--task object]
        [--models permutenet] [--seeds 41,42]
    chanpos table2 --keep-checkpoints --out runs/check
    python benchmarks/plateau_check.py runs/check/table2-<stamp> [--models baseline,augshift]

Prints one row per cell and, per model, the largest change; a model whose accuracy moves by
more than 2 points when trained 50 % longer was not at its plateau. For Table 2 it also
prints each verdict's effect [95 % CI] and decision from the rows the verdict used and from
the rows trained 50 % longer (cells run side by side in processes, one per CPU core).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from chanpos.experiments.table1.cells import run_cell
from chanpos.experiments.table1.config import table1_config
from chanpos.experiments.table1.prepare import load_table1_data
from chanpos.experiments.table1.rows import Table1Row
from chanpos.runs.folders import RunFolder
from chanpos.runs.settings import from_plain


def _reopened_checkpoint(src: Path, dst: Path) -> None:
    """`src` with its plateau rule's state marked as not stopped (so training goes on)."""
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    for key, state in ckpt.get("callbacks", {}).items():
        if str(key).startswith("PlateauStop"):
            state.update(plateaued=False, confirm_at=None, reference=None, settle=None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dst)


def _reopen(run: Path, key: str, folder: RunFolder, command: str) -> bool:
    """Cell `key`'s last checkpoint of `run`, reopened, as the resume point of `folder`'s
    cell; False (with one line) when the run kept no checkpoints."""
    last = run / "cells" / key / "checkpoints" / "last.ckpt"
    if not last.is_file():
        print(f"{last} is missing: run {command} with --keep-checkpoints", file=sys.stderr)
        return False
    _reopened_checkpoint(last, folder.cell_dir(key) / "checkpoints" / "last.ckpt")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a finished table1 run folder, made with "
                        "--keep-checkpoints")
    parser.add_argument("--longer", type=float, default=0.5,
                        help="train on for this fraction of each cell's epochs (0.5)")
    parser.add_argument("--task", default="object", help="the task whose cells to check")
    parser.add_argument("--models", default=None,
                        help="only these models, comma-separated (default: every model)")
    parser.add_argument("--seeds", default=None,
                        help="only these seeds, comma-separated (default: every seed)")
    args = parser.parse_args()
    run = RunFolder(args.folder, owned=False)
    saved = run.read_saved()
    if run.read_config().get("command") == "table2":
        return _table2(args, saved)
    cfg = table1_config(saved, {})
    data = load_table1_data(cfg)
    import json

    rows = [from_plain(Table1Row, r, where="row", complete=True)
            for r in json.loads((args.folder / "results.json").read_text())["rows"]]
    rows = [r for r in rows if r.task == args.task
            and (args.models is None or r.model in args.models.split(","))
            and (args.seeds is None or str(r.seed) in args.seeds.split(","))]
    work = Path(tempfile.mkdtemp(prefix="plateau-check-"))
    print("| cell | epochs | accuracy % | trained on to | accuracy then % | change |")
    print("|---|---|---|---|---|---|")
    changes: dict[str, list[float]] = {}
    try:
        folder = RunFolder(work, owned=True, created=True)
        for r in rows:
            if not _reopen(args.folder, r.key, folder, "table1"):
                return 2
            longer = math.ceil(r.training.epochs * (1 + args.longer))
            never = 10 ** 6  # the rule never fires again: a fixed number of epochs
            cell_cfg = replace(cfg, max_epochs=longer, object_max_epochs=longer, patience=never,
                               object_patience=never,
                               continuation=0.0, jobs=1, progress=False)
            again = run_cell((r.task, r.grid_size, r.padding, r.model, r.seed), cell_cfg,
                             data, folder)
            change = again.accuracy_pct - r.accuracy_pct
            changes.setdefault(r.model, []).append(change)
            print(f"| {r.key} | {r.training.epochs} | {r.accuracy_pct:.1f} | {longer} | "
                  f"{again.accuracy_pct:.1f} | {change:+.1f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    for model, values in changes.items():
        worst = max(values, key=abs)
        print(f"{model}: largest change {worst:+.1f} points over {len(values)} cells "
              f"({'within' if abs(worst) <= 2 else 'NOT within'} 2 points)")
    return 0


def _table2_again(item: tuple, data: dict, folder: RunFolder) -> object:
    """One Table 2 cell trained on from its reopened checkpoint (a worker process's task)."""
    from chanpos.experiments.table2.cells import run_cell as run_table2_cell

    cell, cfg = item
    return run_table2_cell(cell, cfg, data, folder)


def _table2(args: argparse.Namespace, saved: dict) -> int:
    """The Table 2 check: every selected cell 50 % longer, then the verdicts before and after."""
    import json

    from chanpos.experiments.table2.claims import CLAIMS, COMPARISONS, paired
    from chanpos.experiments.table2.config import table2_config
    from chanpos.experiments.table2.prepare import load_table2_data
    from chanpos.experiments.table2.rows import Table2Row
    from chanpos.runs.parallel import cell_threads, cpu_cores, map_runs
    from chanpos.verdicts.rule import decide
    from chanpos.verdicts.stats import t_interval

    cfg = table2_config(saved, {})
    data = load_table2_data(cfg)
    rows = [from_plain(Table2Row, r, where="row", complete=True)
            for r in json.loads((args.folder / "results.json").read_text())["rows"]]
    rows = [r for r in rows if (args.models is None or r.method in args.models.split(","))
            and (args.seeds is None or str(r.seed) in args.seeds.split(","))]
    work = Path(tempfile.mkdtemp(prefix="plateau-check-"))
    try:
        folder = RunFolder(work, owned=True, created=True)
        items = []
        for r in rows:
            if not _reopen(args.folder, r.key, folder, "table2"):
                return 2
            longer = math.ceil(r.training.epochs * (1 + args.longer))
            items.append(((r.source, r.method, r.seed),
                          replace(cfg, max_epochs=longer, patience=10 ** 6, continuation=0.0,
                                  jobs=1, progress=False)))
        jobs = min(cpu_cores(), len(items)) or 1
        again = [None] * len(rows)
        for i, row in map_runs(_table2_again, items, (data, folder), jobs, cell_threads(jobs)):
            again[i] = row
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| cell | epochs | top-1 % | consistency % | trained on to | top-1 then % | "
          "consistency then % | change |")
    print("|---|---|---|---|---|---|---|---|")
    changes: dict[str, list[float]] = {}
    for r, a in zip(rows, again, strict=True):
        change = a.consistency_pct - r.consistency_pct
        changes.setdefault(r.method, []).append(change)
        print(f"| {r.key} | {r.training.epochs} | {r.top1_pct:.2f} | {r.consistency_pct:.2f} | "
              f"{a.training.epochs} | {a.top1_pct:.2f} | {a.consistency_pct:.2f} | "
              f"{change:+.2f} |")
    print()
    for method, values in changes.items():
        worst = max(values, key=abs)
        print(f"{method}: largest consistency change {worst:+.2f} points over {len(values)} "
              f"cells ({'within' if abs(worst) <= 2 else 'NOT within'} 2 points)")
    print()
    for claim, other in COMPARISONS:
        for source in cfg.sources:
            for label, use in (("as run", rows), ("50 % longer", again)):
                diffs = paired(list(use), source, "augshift", other, "consistency_pct")
                if len(diffs) < 2:
                    continue
                mean, lo, hi = t_interval(diffs)
                print(f"{claim} ({source}, {label}): {mean:+.2f} [{lo:+.2f}, {hi:+.2f}] "
                      f"(n = {len(diffs)}): {decide(lo, hi, CLAIMS[claim].min_effect)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
