"""`chanpos reproduce`: every experiment with one profile, one combined report.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..training import TrainerOptions
from .runs import RunFolder, machine_description

__all__ = ["EXPERIMENTS", "reproduce_main"]

# name -> (profile, out, trainer options, data_root, seed, jobs, log) -> (folder, report, results)
Runner = Callable[..., tuple[Path, str, dict[str, Any]]]


def _table1(profile: str, out: Path, opts: TrainerOptions, *, data_root: Path | None,
            seed: int | None, jobs: int | str | None,
            log: Callable[[str], None]) -> tuple[Path, str, dict[str, Any]]:
    from .table1 import table1_config, table1_main

    cfg = table1_config(profile, data_root=str(data_root) if data_root else None, seed=seed,
                        jobs=jobs, trainer=opts)
    return table1_main(cfg, out, log=log)


def _table2(profile: str, out: Path, opts: TrainerOptions, *, data_root: Path | None,
            seed: int | None, jobs: int | str | None,
            log: Callable[[str], None]) -> tuple[Path, str, dict[str, Any]]:
    from .table2 import table2_config, table2_main

    # a given --seed s runs the profile's number of seeds starting at s (s, s+1, ...)
    seeds = None
    if seed is not None:
        seeds = [seed + i for i in range(len(table2_config(profile).seeds))]
    cfg = table2_config(profile, data_root=str(data_root) if data_root else None, seeds=seeds,
                        jobs=jobs, trainer=opts)
    return table2_main(cfg, out, log=log)


def _attack(profile: str, out: Path, opts: TrainerOptions, *, data_root: Path | None,
            seed: int | None, jobs: int | str | None,
            log: Callable[[str], None]) -> tuple[Path, str, dict[str, Any]]:
    from .attack import attack_config, attack_main

    del jobs  # one training run: nothing to run side by side
    cfg = attack_config(profile, data_root=str(data_root) if data_root else None, seed=seed,
                        trainer=opts)
    return attack_main(cfg, out, log=log)


EXPERIMENTS: dict[str, Runner] = {"table1": _table1, "table2": _table2, "attack": _attack}


def reproduce_main(
    profile: str, out: Path, opts: TrainerOptions, *, data_root: Path | None = None,
    seed: int | None = None, only: list[str] | None = None, jobs: int | str | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, str]:
    """Run the experiments (all, or `only`) into one reproduce folder; -> (folder, report)."""
    folder = RunFolder.create(out, "reproduce")
    names = only or list(EXPERIMENTS)
    sections, summary = [], {}
    start = time.perf_counter()
    with folder.guard():
        for name in names:
            log(f"== {name} ({profile} profile) ==")
            t0 = time.perf_counter()
            sub, report, results = EXPERIMENTS[name](profile, folder.path, opts,
                                                     data_root=data_root, seed=seed, jobs=jobs,
                                                     log=log)
            summary[name] = {
                "folder": sub.name,
                "seconds": round(time.perf_counter() - t0, 1),
                "verdicts": results.get("verdicts", results.get("reproduced")),
            }
            rel = sub.name
            body = report.replace("](", f"]({rel}/")
            sections.append(body.replace("\n# ", "\n## ").replace("# ", "## ", 1))
            # keep partial progress visible if a later experiment fails
            folder.append_row({"experiment": name, **summary[name]})
        seconds = time.perf_counter() - start
        header = [
            f"# chanpos reproduce — profile `{profile}`",
            "",
            f"Machine: {machine_description()} · total {seconds:.0f} s",
            "",
            "| experiment | folder | seconds |",
            "|---|---|---|",
            *[f"| {n} | {s['folder']} | {s['seconds']:.0f} |" for n, s in summary.items()],
            "",
        ]
        report = "\n".join(header) + "\n" + "\n".join(sections)
        folder.write_text("report.md", report)
        folder.write_json("results.json", {
            "experiment": "reproduce", "profile": profile, "machine": machine_description(),
            "seconds": round(seconds, 1), "experiments": summary,
        })
    return folder.path, report
