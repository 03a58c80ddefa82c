"""issue 4's study: which factors let flip-ranked zeroing beat random zeroing (Claim 3)?

Each cell of `profiles/attack_study.yaml` is one attack run (the attack profile plus the
cell's factor: position-only labels, training length, feature-map size, padding); the study
report puts their curves and verdicts side by side. Cells can run in parallel processes
with one CPU thread each (`workers`).
"""

from __future__ import annotations

import json
import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ChanposError
from .attack import (
    AttackConfig,
    attack_config,
    check_channels,
    format_attack,
    plot_attack_curve,
    plot_attack_examples,
    plot_attack_regions,
    prepare_attack,
    run_attack,
)
from .parallel import map_runs
from .runs import RunFolder, machine_description, to_plain

__all__ = ["study_cells", "study_main", "format_study", "plot_study", "per_n_summary"]


def study_cells(profile: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(common overrides, {cell name: cell overrides}) of the study for `profile`."""
    text = resources.files("chanpos.experiments").joinpath("profiles/attack_study.yaml")
    doc = yaml.safe_load(text.read_text(encoding="utf-8"))
    if profile not in doc:
        raise ChanposError(
            f"no attack study for profile {profile!r}; choose one of: {', '.join(sorted(doc))}"
        )
    return dict(doc[profile].get("common") or {}), dict(doc[profile]["cells"])


def _cell_config(profile: str, common: dict[str, Any], overrides: dict[str, Any],
                 cell: dict[str, Any]) -> AttackConfig:
    merged = {**common, **{k: v for k, v in overrides.items() if v is not None}, **cell}
    return attack_config(profile, **merged)


def _study_cell(item: tuple[str, AttackConfig, str]) -> dict[str, Any]:
    """Run one cell (name, config, folder) in its folder (a worker process when parallel)."""
    name, cfg, cell_dir = item
    folder = RunFolder(Path(cell_dir), owned=True)
    folder.path.mkdir(parents=True, exist_ok=True)
    wall, cpu = time.perf_counter(), time.process_time()
    inputs = prepare_attack(cfg)
    folder.write_config(cfg)
    results, examples = run_attack(cfg, inputs, folder, log=lambda m: print(f"[{name}] {m}",
                                                                           flush=True))
    results["seconds"]["cell_wall"] = round(time.perf_counter() - wall, 1)
    results["seconds"]["cell_cpu"] = round(time.process_time() - cpu, 1)
    from .reporting import finish_run

    plots = [lambda p: plot_attack_curve(results, p / "attack_curve.png"),
             lambda p: plot_attack_regions(results, p / "attack_regions.png")]
    if examples:
        plots.append(lambda p: plot_attack_examples(examples, p / "attack_examples.png"))
    finish_run(folder, results, format_attack(results, cfg), plots)
    return to_plain(results)


def _summary(name: str, settings: dict[str, Any], r: dict[str, Any]) -> dict[str, Any]:
    c = r["num_channels"]
    rand = {x["n"]: x for x in r["curves"]["random"]}
    upto = [x for x in r["curves"]["ranked"] if 0 < x["n"] <= c / 4]
    gaps = [x["miou"] - rand[x["n"]]["miou_mean"] for x in upto]
    z = [(x["miou"] - rand[x["n"]]["miou_mean"]) / rand[x["n"]]["miou_std"]
         for x in upto if rand[x["n"]]["miou_std"] > 0]
    n4 = max((x["n"] for x in upto), default=None)
    passing = sum(x["miou"] < rand[x["n"]]["miou_mean"] - rand[x["n"]]["miou_std"] for x in upto)

    def at(kind: str, n: int | None) -> float | None:
        if n is None:
            return None
        for x in r["curves"][kind]:
            if x["n"] == n:
                return x.get("miou", x.get("miou_mean"))
        return None

    base = r["baseline_miou"]["all"]
    regions = r["regions"]
    rn = max((x["n"] for x in regions), default=None)
    cell = {(x["channels"], x["region"]): x for x in regions if x["n"] == rn}
    return {
        "cell": name, "settings": settings, "channels": c, "baseline_miou": base,
        "n_quarter": n4,
        "drop_ranked": None if n4 is None else round(base - at("ranked", n4), 2),
        "drop_random": None if n4 is None else round(base - at("random", n4), 2),
        "random_std": None if n4 is None else rand[n4]["miou_std"],
        "drop_magnitude": None if n4 is None else round(base - at("magnitude", n4), 2),
        "drop_least": None if n4 is None else round(base - at("least", n4), 2),
        "mean_gap_ranked_minus_random": round(sum(gaps) / len(gaps), 3) if gaps else None,
        "mean_z": round(sum(z) / len(z), 2) if z else None,
        "spearman": r["diagnostics"]["spearman_flip_score_vs_magnitude"],
        "region_n": rn,
        "left_on_left": cell.get(("left", "left"), {}).get("drop"),
        "left_on_right": cell.get(("left", "right"), {}).get("drop"),
        "random_left": cell.get(("left", "left"), {}).get("random_drop_mean"),
        "random_left_std": cell.get(("left", "left"), {}).get("random_miou_std"),
        "n_passing": f"{passing}/{len(upto)}",
        "figure4": r["reproduced"]["figure4"], "figure6": r["reproduced"]["figure6"],
        "seconds": r["seconds"],
    }


def _f(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def per_n_summary(cells: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """For every N > 0 run by all cells: in how many cells the ranked curve is below random
    mean − std, below the magnitude control, and the mean (ranked − random) gap."""
    common = set.intersection(*[{x["n"] for x in r["curves"]["ranked"]} for r in cells.values()])
    out = []
    for n in sorted(x for x in common if x > 0):
        below = below_mag = 0
        gaps = []
        for r in cells.values():
            ranked = next(x["miou"] for x in r["curves"]["ranked"] if x["n"] == n)
            rand = next(x for x in r["curves"]["random"] if x["n"] == n)
            mag = next(x["miou"] for x in r["curves"]["magnitude"] if x["n"] == n)
            below += ranked < rand["miou_mean"] - rand["miou_std"]
            below_mag += ranked < mag
            gaps.append(ranked - rand["miou_mean"])
        out.append({"n": n, "cells": len(cells), "ranked_below_random_minus_std": below,
                    "ranked_below_magnitude": below_mag,
                    "mean_gap": round(sum(gaps) / len(gaps), 3),
                    "fraction_of_c": round(n / next(iter(cells.values()))["num_channels"], 3)})
    return out


def format_study(rows: list[dict[str, Any]], profile: str, seconds: float, workers: int,
                 per_n: list[dict[str, Any]] | None = None,
                 common: dict[str, Any] | None = None) -> str:
    """The study report: one line per cell, then what the cells say together."""
    cpu = sum(r["seconds"].get("cell_cpu") or 0 for r in rows)
    wall = sum(r["seconds"].get("cell_wall") or 0 for r in rows)
    base = ", ".join(f"{k}={v}" for k, v in (common or {}).items())
    lines = [
        "# Attack study — which factors make flip-ranked zeroing beat random? "
        f"(profile `{profile}`)",
        "",
        f"Machine: {machine_description()}. {len(rows)} cells; their own times add up to "
        f"{cpu:.0f} CPU s and {wall:.0f} s wall (cells ran {workers} at a time in the last "
        f"invocation, which took {seconds:.0f} s; wall times are inflated on a shared machine).",
        f"Every cell is the attack `{profile}` profile with {base or 'no changes'}, plus the "
        "cell's settings.",
        "Each cell is one `chanpos attack` run (its own report in `cells/<cell>/`). Drops are "
        "whole-image mIoU points lost at N = C/4 against the unattacked model; random is the "
        "mean (± sample std) over the draws. z = (ranked − random mean) / random std averaged "
        "over 0 < N ≤ C/4 (negative: ranked hurts more).",
        "",
        "| cell | settings | C | mIoU | drop ranked | drop random | drop magnitude | drop least "
        "| mean z | ρ(flip, magn.) | N ≤ C/4 with ranked < random − std | figure4 "
        "| left ch. drop L / R (random L) | figure6 | CPU s | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items()) or "(study base)"
        lines.append(
            f"| {r['cell']} | {settings} | {r['channels']} | {_f(r['baseline_miou'])} | "
            f"{_f(r['drop_ranked'], 2)} | {_f(r['drop_random'], 2)} ± {_f(r['random_std'], 2)} | "
            f"{_f(r['drop_magnitude'], 2)} | {_f(r['drop_least'], 2)} | {_f(r['mean_z'], 2)} | "
            f"{_f(r['spearman'], 2)} | {r['n_passing']} | {_yes(r['figure4'])} | "
            f"{_f(r['left_on_left'], 2)} / {_f(r['left_on_right'], 2)} ({_f(r['random_left'], 2)} "
            f"± {_f(r['random_left_std'], 2)}) | {_yes(r['figure6'])} | "
            f"{_f(r['seconds'].get('cell_cpu'), 0)} | {_f(r['seconds'].get('cell_wall'), 0)} |"
        )
    if per_n:
        lines += [
            "",
            "## Per N, over all cells",
            "",
            "| N | N / C | cells with ranked < random − std | cells with ranked < magnitude | "
            "mean ranked − random (points) |",
            "|---|---|---|---|---|",
            *[f"| {p['n']} | {p['fraction_of_c']:.2f} | {p['ranked_below_random_minus_std']} of "
              f"{p['cells']} | {p['ranked_below_magnitude']} of {p['cells']} | "
              f"{p['mean_gap']:+.2f} |" for p in per_n],
        ]
    f4 = [r["cell"] for r in rows if r["figure4"]]
    f6 = [r["cell"] for r in rows if r["figure6"]]
    lines += [
        "",
        "## Reading",
        "",
        "Figure 4's rule (ranked below random − 1 std at every N ≤ C/4) held in: "
        + (", ".join(f4) if f4 else "**no cell**") + ".",
        "Figure 6's rule (left channels: left-half drop > random + 1 std and > right-half "
        "drop) held in: " + (", ".join(f6) if f6 else "**no cell**") + ".",
        "",
        "![study curves](study_curves.png)",
        "",
    ]
    return "\n".join(lines)


def _yes(flag: bool | None) -> str:
    return "–" if flag is None else ("yes" if flag else "no")


def plot_study(cells: dict[str, dict[str, Any]], path: Path) -> Path:
    """One panel per cell: ranked vs random (band) vs controls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(cells)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):  # the grid may have spare axes
        cur = cells[name]["curves"]
        ns = [x["n"] for x in cur["ranked"]]
        mean = [x["miou_mean"] for x in cur["random"]]
        std = [x["miou_std"] for x in cur["random"]]
        ax.fill_between(ns, [m - s for m, s in zip(mean, std, strict=True)],
                    [m + s for m, s in zip(mean, std, strict=True)],
                        color="0.8")
        ax.plot(ns, mean, color="0.4", marker="o", ms=3, label="random")
        ax.plot(ns, [x["miou"] for x in cur["ranked"]], color="tab:red", marker="o", ms=3,
                label="flip-ranked")
        ax.plot(ns, [x["miou"] for x in cur["magnitude"]], color="tab:blue", ls="--",
                label="magnitude")
        ax.plot(ns, [x["miou"] for x in cur["least"]], color="tab:green", ls=":", label="least")
        ax.axvline(cells[name]["num_channels"] / 4, color="k", lw=0.6, ls="--")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("N zeroed")
        ax.set_ylabel("mIoU %")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    from .reporting import save_figure

    return save_figure(fig, path)


def study_main(
    profile: str, out: Path, overrides: dict[str, Any], *, cells: list[str] | None = None,
    workers: int = 1, resume: Path | None = None, log=print,
) -> tuple[Path, str]:
    """Run the study's cells (all or `cells`) into one `attack-study-*` folder.

    `resume`: an earlier study folder; its finished cells (cells/<name>/results.json) are
    kept, the others run, and the report covers all of them.
    """
    common, all_cells = study_cells(profile)
    names = cells or list(all_cells)
    unknown = [n for n in names if n not in all_cells]
    if unknown:
        raise ChanposError(
            f"unknown study cell {unknown[0]!r}; choose from: {', '.join(all_cells)}"
        )
    if workers < 1:
        raise ChanposError(f"--study-workers must be >= 1, got {workers}")
    configs = {n: _cell_config(profile, common, overrides, all_cells[n]) for n in names}
    for cfg in configs.values():  # fail on bad input before any folder exists
        if cfg.source == "streets" and cfg.checkpoint is None:
            check_channels(cfg)  # cheap: no data generated twice
        else:
            prepare_attack(cfg)
    results: dict[str, dict[str, Any]] = {}
    if resume is not None:
        if not (Path(resume) / "cells").is_dir():
            raise ChanposError(f"--study-resume {resume}: not an attack study folder (no cells/)")
        folder = RunFolder.reopen(Path(resume))
        for done in sorted((folder.path / "cells").glob("*/results.json")):
            results[done.parent.name] = json.loads(done.read_text(encoding="utf-8"))
        keep = set(results) | set(names)
        names = [n for n in all_cells if n in keep] + [n for n in results if n not in all_cells]
        log(f"resuming {folder.path}: {len(results)} finished cells kept")
    else:
        folder = RunFolder.create(out, "attack-study")
    todo = [n for n in names if n not in results]
    start = time.perf_counter()
    with folder.guard():
        folder.write_config({"profile": profile, "common": common, "overrides": overrides,
                             "cells": {n: all_cells.get(n, {}) for n in names}})
        dirs = {n: str(folder.path / "cells" / n) for n in todo}
        if workers > 1:
            log(f"running {len(todo)} study cells, {workers} at a time in separate processes")
        items = [(n, configs[n], dirs[n]) for n in todo]
        for i, res in map_runs(_study_cell, items, (), workers):
            n = todo[i]
            results[n] = res
            folder.append_row({"cell": n, "figure4": res["reproduced"]["figure4"]})
            log(f"== study cell {n} finished ==")
        seconds = time.perf_counter() - start
        rows = [_summary(n, all_cells.get(n, {}), results[n]) for n in names]
        per_n = per_n_summary({n: results[n] for n in names})
        report = format_study(rows, profile, seconds, workers, per_n, common)
        from .reporting import finish_run

        finish_run(folder, {"experiment": "attack-study", "profile": profile,
                            "machine": machine_description(), "seconds": round(seconds, 1),
                            "cells": rows, "per_n": per_n},
                   report, [lambda p: plot_study(results, p / "study_curves.png")])
    return folder.path, report
