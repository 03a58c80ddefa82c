"""`chanpos reproduce`: every experiment with one profile, one combined report whose verdict
table and plot cover every claim of Islam et al. (ICCV 2021) that the profile tests."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChanposError
from .claims import CLAIMS
from .lifecycle import Experiment, Interrupted, Outcome, execute, from_plain
from .runs import RunFolder, machine_description
from .verdicts import Verdict, plot_verdicts, verdict_table

__all__ = ["EXPERIMENTS", "ReproduceConfig", "reproduce_config", "EXPERIMENT"]

EXPERIMENTS = ("table1", "table2", "attack")


@dataclass(frozen=True)
class ReproduceConfig:
    """The profile, which experiments, the seed and the overrides every experiment gets."""

    profile: str
    experiments: tuple[str, ...] = EXPERIMENTS
    seed: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def sub_overrides(self, name: str) -> dict[str, Any]:
        """The overrides of experiment `name` (a --seed s gives table2 and attack the seeds
        s, s+1, ... as many as the profile has)."""
        over = dict(self.overrides)
        if self.seed is not None:
            if name == "table1":
                over["seed"] = self.seed
            else:
                module = importlib.import_module(f"chanpos.experiments.{name}")
                count = len(module.EXPERIMENT.config(self.profile, {}).seeds)
                over["seeds"] = [self.seed + i for i in range(count)]
        return over

    def sub_config(self, name: str) -> Any:
        """The resolved configuration of experiment `name`."""
        module = importlib.import_module(f"chanpos.experiments.{name}")
        return module.EXPERIMENT.config(self.profile, self.sub_overrides(name))


def reproduce_config(base: str | Mapping[str, Any] = "quick",
                     overrides: Mapping[str, Any] | None = None) -> ReproduceConfig:
    """Resolve a profile name (or saved settings) + `seed`, `experiments` and device overrides."""
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    if isinstance(base, str):
        values: dict[str, Any] = {"profile": base, "overrides": {}}
    else:
        values = {**base, "overrides": dict(base.get("overrides") or {})}
    for key in ("seed", "experiments"):
        if key in over:
            values[key] = over.pop(key)
    values["overrides"].update(over)
    cfg = from_plain(ReproduceConfig, values, where="reproduce settings")
    unknown = [e for e in cfg.experiments if e not in EXPERIMENTS]
    if unknown:
        raise ChanposError(f"unknown experiment {unknown[0]!r}; choose from: "
                           f"{', '.join(EXPERIMENTS)}")
    return cfg


def _prepare(cfg: ReproduceConfig) -> dict[str, Any]:
    return {name: cfg.sub_config(name) for name in cfg.experiments}


def _sub_run(name: str, sub_cfg: Any, folder: RunFolder, log) -> dict[str, Any]:
    sub = folder.path / name
    if (sub / "results.json").is_file():
        log(f"== {name}: finished earlier ==")
        return json.loads((sub / "results.json").read_text(encoding="utf-8"))
    module = importlib.import_module(f"chanpos.experiments.{name}")
    log(f"== {name} ({sub_cfg.profile} profile) ==")
    t0 = time.perf_counter()
    try:
        _, report, results = execute(module.EXPERIMENT, sub_cfg, folder.path,
                                     resume=sub if sub.is_dir() else None, name=name, log=log)
    except Interrupted:
        raise KeyboardInterrupt from None  # reproduce's own lifecycle says how to resume
    results = json.loads(json.dumps(results, default=str))
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return results


def _run(cfg: ReproduceConfig, configs: dict[str, Any], folder: RunFolder, log) -> Outcome:
    start = time.perf_counter()
    results = {name: _sub_run(name, configs[name], folder, log) for name in cfg.experiments}
    seconds = time.perf_counter() - start
    verdicts = [Verdict(**{**v, "ci95": tuple(v["ci95"])})
                for r in results.values() for v in r.get("verdicts", [])]
    sections = []
    for name in cfg.experiments:
        body = (folder.path / name / "report.md").read_text(encoding="utf-8")
        body = body.replace("](", f"]({name}/").replace("\n# ", "\n## ")
        sections.append(body.replace("# ", "## ", 1))
    lines = [
        f"# chanpos reproduce — profile `{cfg.profile}`",
        "",
        "Islam et al., \"Global Pooling, More than Meets the Eye: Position Information is "
        "Encoded Channel-Wise in CNNs\", ICCV 2021: every claim the profile tests.",
        "",
        f"Machine: {machine_description()} · total {seconds:.0f} s in this invocation",
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
                    "experiments": summary, "verdicts": [v.as_dict() for v in verdicts]},
                   report, plots)


EXPERIMENT = Experiment(name="reproduce", config=reproduce_config, prepare=_prepare, run=_run)
