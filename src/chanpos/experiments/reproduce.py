"""`chanpos reproduce`: every experiment with one profile, one combined report whose verdict
table and plot cover every claim of Islam et al. (ICCV 2021) that the profile tests.

Every sub-experiment is configured and prepared (data loaded, extras, data roots and
checkpoints checked) before the first one trains, so a missing extra or data root is one
line at second zero. Each sub-run is its own run folder inside the reproduce folder; on
`--resume` a started sub-run continues with its own saved settings.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import ChanposError
from .claims import CLAIMS
from .lifecycle import (
    Experiment,
    Interrupted,
    Outcome,
    check_subrun,
    execute,
    read_results,
)
from .profiles import load_profile
from .run_settings import RunSettings
from .runs import RunFolder, machine_description, to_plain
from .settings import info_of, resolve, setting
from .verdicts import Verdict, plot_verdicts, verdict_table

__all__ = ["EXPERIMENTS", "ReproduceConfig", "reproduce_config", "EXPERIMENT"]

EXPERIMENTS = ("table1", "table2", "attack", "audit")
# experiments whose inputs another one produces: the audit probes Table 1's GAPNet (zero
# padding, the first location grid size, the first seed), so it is configured and prepared
# when Table 1 has finished (its settings are checked at the start, its data is Table 1's)
_AFTER = {"audit": "table1"}
# the settings a sub-experiment takes from reproduce's (every RunSettings field but the
# profile, which picks the sub-experiment's own profile of the same name)
_PASSED = tuple(f.name for f in fields(RunSettings) if f.name != "profile")


@dataclass(frozen=True, kw_only=True)
class ReproduceConfig(RunSettings):
    """The profile, which experiments, the first seed, and the settings every experiment gets."""

    experiments: tuple[str, ...] = setting(EXPERIMENTS, help="Experiments to run: table1, "
                                           "table2, attack, audit (of Table 1's GAPNet).",
                                           choices=EXPERIMENTS,
                                           what="experiment", metavar="LIST")
    seed: int | None = setting(None, help="First training seed: each experiment then uses "
                               "seeds seed, seed+1, ... (as many as its profile has; default: "
                               "the profiles' seeds).", minimum=0, maximum=2**31 - 1,
                               none_word="profile", metavar="N")

    def sub_overrides(self, name: str) -> dict[str, Any]:
        """The overrides of experiment `name`: the shared settings, and the seeds."""
        over = {k: getattr(self, k) for k in _PASSED}
        seeds = load_profile(name, self.profile).get("seeds")
        if self.seed is not None and seeds:
            over["seeds"] = tuple(self.seed + i for i in range(len(seeds)))
        return over

    def runtime(self) -> dict[str, Any]:
        """The settings that may change on resume, for sub-runs resumed from their folders."""
        return {f.name: getattr(self, f.name) for f in fields(RunSettings)
                if info_of(f) is not None and info_of(f).runtime}


def reproduce_config(base: str | Mapping[str, Any] = "quick",
                     overrides: Mapping[str, Any] | None = None) -> ReproduceConfig:
    """A profile name (or saved settings) + command-line values -> the config; `jobs` and
    `threads` stay as given (each experiment fixes its own from its cells)."""
    if isinstance(base, str):
        base = {"profile": base}
        cfg = resolve(ReproduceConfig, "reproduce", base, overrides, complete=False)
    else:
        cfg = resolve(ReproduceConfig, "reproduce", base, overrides)
    for name in cfg.experiments:  # an unknown profile is one line now, not mid-run
        load_profile(name, cfg.profile)
        needs = _AFTER.get(name)
        if needs and needs not in cfg.experiments:
            raise ChanposError(f"--experiments {name} audits a model {needs} trains: add {needs} "
                               "to --experiments")
    return cfg


def _module(name: str) -> Any:
    return importlib.import_module(f"chanpos.experiments.{name}")


def _sub_config(cfg: ReproduceConfig, name: str, folder: Path | None,
                audited: Path | None = None) -> Any:
    """A started sub-run keeps its saved settings; a new one is resolved from the profile
    (the audit with `audited`, Table 1's model file, or without it only to check settings)."""
    experiment = _module(name).EXPERIMENT
    if folder is not None and (folder / "config.yaml").is_file():
        saved = RunFolder(folder, owned=False).read_config()
        saved.pop("command", None)
        return experiment.config(saved, cfg.runtime())
    over = cfg.sub_overrides(name)
    if name == "audit":
        t1 = _sub_config(cfg, "table1", None)
        over.update(model="gapnet", source=t1.source, grid_size=t1.grid_sizes[0],
                    seed=t1.seeds[0], checkpoint=None if audited is None else str(audited))
    return experiment.config(over.pop("profile", cfg.profile), over)


def _audited_model(folder: Path) -> Path:
    """Table 1's GAPNet with zero padding on the first location grid, first seed."""
    t1 = RunFolder(folder / "table1", owned=False).read_config()
    cell = f"location-k{t1['grid_sizes'][0]}-zeros-gapnet-seed{t1['seeds'][0]}"
    path = folder / "table1" / "cells" / cell / "model.pt"
    if not path.is_file():
        raise ChanposError(f"the audit needs {path}, which Table 1 did not write (was zero "
                           "padding or gapnet left out of its settings?)")
    return path


def _prepare(cfg: ReproduceConfig, folder: Path | None = None) -> dict[str, tuple[Any, Any]]:
    """(config, prepared inputs) of every sub-experiment still to run: every user error of
    every experiment surfaces before the first one trains."""
    out = {}
    for name in cfg.experiments:
        sub = folder / name if folder is not None else None
        if sub is not None and (sub / "results.json").is_file():
            out[name] = (None, None)
            continue
        sub_cfg = _sub_config(cfg, name, sub)
        if name in _AFTER and not (sub is not None and (sub / "config.yaml").is_file()):
            out[name] = (None, None)  # configured and prepared once its model exists
            continue
        out[name] = (sub_cfg, _module(name).EXPERIMENT.prepare(sub_cfg))
    return out


def _check_folder(cfg: ReproduceConfig, folder: RunFolder) -> None:
    for name in cfg.experiments:
        check_subrun(_module(name).EXPERIMENT, folder.path / name)


def _sub_run(name: str, sub_cfg: Any, prepared: Any, folder: RunFolder, log) -> dict[str, Any]:
    sub = folder.path / name
    if (sub / "results.json").is_file():
        log(f"== {name}: finished earlier ==")
        return read_results(sub)
    log(f"== {name} ({sub_cfg.profile} profile) ==")
    t0 = time.perf_counter()
    try:
        _, _, results = execute(_module(name).EXPERIMENT, sub_cfg, folder.path,
                                resume=sub if sub.is_dir() else None, name=name, log=log,
                                prepared=prepared)
    except Interrupted:
        raise KeyboardInterrupt from None  # reproduce's own lifecycle says how to resume
    results = to_plain(results)
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return results


def _run(cfg: ReproduceConfig, prepared: dict[str, tuple[Any, Any]], folder: RunFolder,
         log) -> Outcome:
    start = time.perf_counter()
    results = {}
    for name in cfg.experiments:
        sub_cfg, inputs = prepared[name]
        if name in _AFTER and sub_cfg is None and not (folder.path / name / "results.json"
                                                       ).is_file():
            sub_cfg = _sub_config(cfg, name, None, _audited_model(folder.path))
        results[name] = _sub_run(name, sub_cfg, inputs, folder, log)
    seconds = time.perf_counter() - start
    verdicts = [Verdict.from_dict(v) for r in results.values() for v in r.get("verdicts", [])]
    sections = []
    for name in cfg.experiments:
        body = (folder.path / name / "report.md").read_text(encoding="utf-8")
        body = body.replace("](", f"]({name}/").replace("\n# ", "\n## ")
        sections.append(body.replace("# ", "## ", 1))
    size = sum(p.stat().st_size for p in folder.path.rglob("*") if p.is_file())
    lines = [
        f"# chanpos reproduce — profile `{cfg.profile}`",
        "",
        "Islam et al., \"Global Pooling, More than Meets the Eye: Position Information is "
        "Encoded Channel-Wise in CNNs\", ICCV 2021: every claim the profile tests.",
        "",
        f"Machine: {machine_description()} · total {seconds:.0f} s in this invocation · run "
        f"folder {size / 1e6:.1f} MB",
        "",
        "## Verdicts",
        "",
        *verdict_table(verdicts, CLAIMS),
        "",
        "![every claim's effect with its 95 % interval](verdicts.png)",
        "",
        "| experiment | folder | seconds (its own run) |",
        "|---|---|---|",
        *[f"| {n} | [{n}/]({n}/report.md) | {r.get('seconds', 0):.0f} |"
          for n, r in results.items()],
        "",
    ]
    report = "\n".join(lines) + "\n" + "\n".join(sections)
    summary = {n: {"folder": n, "seconds": r.get("seconds"), "verdicts": r.get("verdicts", [])}
               for n, r in results.items()}
    plots = [lambda p: plot_verdicts(verdicts, p / "verdicts.png")] if verdicts else []
    return Outcome({"experiment": "reproduce", "profile": cfg.profile,
                    "machine": machine_description(), "seconds": round(seconds, 1),
                    "folder_bytes": size, "experiments": summary,
                    "verdicts": [v.as_dict() for v in verdicts]}, report, plots)


def _prepare_new(cfg: ReproduceConfig) -> dict[str, tuple[Any, Any]]:
    if not cfg.experiments:
        raise ChanposError("--experiments needs at least one of: " + ", ".join(EXPERIMENTS))
    return _prepare(cfg)


EXPERIMENT = Experiment(name="reproduce", config=reproduce_config, prepare=_prepare_new,
                        run=_run, check_folder=_check_folder,
                        prepare_reopened=lambda cfg, folder: _prepare(cfg, folder.path))
