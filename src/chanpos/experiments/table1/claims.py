"""Table 1's claims and their verdicts (Islam et al., ICCV 2021, Table 1): the location gap
between GAPNet and PermuteNet, and PermuteNet coming close to GAPNet on the object task."""

from __future__ import annotations

import statistics

from ...verdicts import Check, Claim, Verdict, check, converged_check, judge, t_interval
from .config import Table1Config
from .rows import Table1Row
from .rows import select as _sel

__all__ = ["CLAIMS", "OBJECT_MARGIN", "table1_verdicts"]

CLAIMS: dict[str, Claim] = {c.claim: c for c in [
    Claim(
        claim="table1.location",
        statement="with zero padding GAPNet reads the tile's cell from the pooled vector, while "
                  "PermuteNet (channel order shuffled at every pass) collapses toward chance",
        paper="Table 1: GAPNet 100 % at every grid size, PermuteNet near chance",
        unit="accuracy points (GAPNet − PermuteNet, location task, zeros)",
        min_effect=25.0,
        min_effect_reason="a quarter of the paper's gap (100 % against chance: about 89 to 98 "
                          "points at grids 3 to 7)",
    ),
    Claim(
        claim="table1.object",
        statement="on the object task PermuteNet comes close to GAPNet: semantics do not live "
                  "in the channel order",
        paper="Table 1: PermuteNet close to GAPNet on the object task",
        unit="points (10 − (GAPNet − PermuteNet) object accuracy, zeros)",
        min_effect=2.5,
        min_effect_reason="'close' is read as within 10 points; a quarter of that margin",
    ),
]}


OBJECT_MARGIN = 10.0  # "close" = PermuteNet within this many points of GAPNet (claims.py)


def _paired(rows: list[Table1Row], task: str) -> tuple[list[float], list[str]]:
    """(per training seed: 100 * (GAPNet right − PermuteNet right), averaged over the test
    canvases and every grid size run with zero padding (both models see the same canvases);
    the seeds' ids)."""
    out: list[float] = []
    ids: list[str] = []
    for seed in sorted({r.seed for r in rows}):
        diffs: list[int] = []
        for g in _sel(rows, model="gapnet", padding="zeros", task=task, seed=seed):
            p = _sel(rows, model="permutenet", padding="zeros", task=task, seed=seed,
                     grid_size=g.grid_size)
            if p and len(p[0].correct) == len(g.correct):
                diffs += [int(a) - int(b) for a, b in zip(g.correct, p[0].correct, strict=True)]
        if diffs:
            out.append(100.0 * sum(diffs) / len(diffs))
            ids.append(f"seed {seed}")
    return out, ids


def _converged(rows: list[Table1Row], task: str, cfg: Table1Config) -> Check:
    sel = _sel(rows, padding="zeros", task=task)
    return converged_check([(f"{r.model} k={r.grid_size} seed {r.seed}", r.training)
                            for r in sel], cfg.task_rule(task),
                           flag="--object-max-epochs" if task == "object" else "--max-epochs",
                           least=cfg.task_stopping(task).least_epochs)


def _gapnet_learned(rows: list[Table1Row]) -> Check:
    """GAPNet must be clearly above chance on the object task before "PermuteNet comes close
    to it" means anything: its accuracy's 95 % lower bound above chance + the margin."""
    sel = _sel(rows, model="gapnet", padding="zeros", task="object")
    per_seed = [statistics.fmean(r.accuracy_pct for r in sel if r.seed == s)
                for s in sorted({r.seed for r in sel})]
    if len(per_seed) < 2:
        return check("learned", False, "fewer than 2 seeds of GAPNet on the object task with "
                     "zero padding: no interval")
    mean, lo, _ = t_interval(per_seed)
    chance = sel[0].chance_pct
    need = chance + OBJECT_MARGIN
    return check("learned", lo is not None and lo > need,
                 f"GAPNet object accuracy {mean:.1f} % (95 % lower bound {lo:.1f} %) against "
                 f"chance {chance:.1f} % + the {OBJECT_MARGIN:g}-point closeness margin = "
                 f"{need:.1f} %" + ("" if lo is not None and lo > need else
                                    ": train longer or on more tiles until GAPNet learns the "
                                    "classes"))


def table1_verdicts(rows: list[Table1Row], cfg: Table1Config) -> list[Verdict]:
    """`table1.location` and `table1.object` where both models ran with zero padding.

    Replicates are training seeds (GAPNet and PermuteNet of one seed are paired: the same
    test canvases), each averaged over every grid size run. Checks: every model behind a
    verdict plateaued; for the object task, GAPNet learned the classes.
    """
    out = []
    loc, ids = _paired(rows, "location")
    if loc:
        out.append(judge(CLAIMS["table1.location"], loc, "training seed",
                         [_converged(rows, "location", cfg)], ids))
    obj, ids = _paired(rows, "object")
    if obj:
        out.append(judge(CLAIMS["table1.object"], [OBJECT_MARGIN - d for d in obj],
                         "training seed", [_converged(rows, "object", cfg),
                                           _gapnet_learned(rows)], ids))
    return out
