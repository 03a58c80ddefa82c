"""`chanpos reproduce`: every registered experiment with one profile, one combined report whose
verdict table and plot cover every claim of Islam et al. (ICCV 2021) that the profile tests.

Experiments come from the registry (`Entry.reproduce`), in its order; one that `needs` another
takes the overrides its `from_needs` makes of the other's `products` (the audit audits Table
1's GAPNet). Every sub-experiment is configured and prepared (data loaded, extras, data roots
and checkpoints checked) before the first one trains, so a missing extra or data root is one
line at second zero; one that needs another's products is configured at the start (its
settings checked) and prepared once they exist. Each sub-run is its own run folder inside the
reproduce folder; on `--resume` a started sub-run continues with its own saved settings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ...errors import ChanposError
from ...runs.compose import runtime_settings, sub_config
from ...runs.folders import RunFolder, machine_description, to_plain
from ...runs.lifecycle import (
    Experiment,
    Interrupted,
    Outcome,
    execute,
    read_report,
    read_results,
    validate_subrun,
)
from ...runs.registry import entry
from ...runs.reporting import Block, Report, figure, heading, save_figure
from ...verdicts import Verdict, claim_of, verdict_figure, verdict_table
from .config import ReproduceConfig, reproduce_config

__all__ = ["EXPERIMENT"]


def _experiment(name: str) -> Any:
    return entry(name).experiment()


def _configure(cfg: ReproduceConfig, name: str, folder: Path | None,
               finished: bool = False) -> Any:
    """The config of sub-run `name`: its saved one if it started, else its profile with the
    shared settings and what it needs from the experiments before it (their products, with
    their files once `finished`; without them only its settings are checked)."""
    needs = entry(name).needs
    layers: list[dict[str, Any]] = [cfg.sub_overrides(name)]
    if needs:
        products = {}
        for other in needs:
            sub = None if folder is None else folder / other
            other_cfg = _configure(cfg, other, sub)
            products[other] = _experiment(other).products(other_cfg, sub if finished else None)
        layers.append(_experiment(name).from_needs(products))
    own = None if folder is None else folder / name
    return sub_config(_experiment(name), own, cfg.profile, *layers,
                      runtime=runtime_settings(cfg))


def _prepare(cfg: ReproduceConfig, folder: Path | None = None) -> dict[str, tuple[Any, Any]]:
    """(config, prepared inputs) of every sub-experiment still to run: every user error of
    every experiment surfaces before the first one trains."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in cfg.experiments:
        sub = folder / name if folder is not None else None
        if sub is not None and (sub / "results.json").is_file():
            out[name] = (None, None)
            continue
        started = sub is not None and (sub / "config.yaml").is_file()
        sub_cfg = _configure(cfg, name, folder)
        if entry(name).needs and not started:
            out[name] = (None, None)  # configured and prepared once its inputs exist
            continue
        out[name] = (sub_cfg, _experiment(name).prepare(sub_cfg))
    return out


def _finished_verdicts(name: str, results: dict[str, Any], sub: Path, sub_cfg: Any
                       ) -> list[Verdict]:
    """The verdicts of a finished sub-run, each one a valid verdict, and every claim its
    experiment always judges among them; anything else is a damaged results.json."""
    path = sub / "results.json"
    fix = "delete it to rebuild that run's report from its finished cells"
    raw = results.get("verdicts")
    if not isinstance(raw, list):
        raise ChanposError(f"{path} is damaged (its verdicts are not a list); {fix}")
    try:
        verdicts = [Verdict.from_dict(v) for v in raw]
    except ValueError as exc:
        raise ChanposError(f"{path} is damaged (a verdict: {exc}); {fix}") from None
    experiment = _experiment(name)
    have = {c.claim for v in verdicts if (c := claim_of(experiment.claims, v.claim))} | {
        v.claim for v in verdicts}
    missing = sorted(experiment.claims_of(sub_cfg) - have)
    if missing:
        raise ChanposError(f"{path} is damaged (no verdict on {missing[0]}, which {name} "
                           f"always judges); {fix}")
    return verdicts


def _validate_folder(cfg: ReproduceConfig, folder: RunFolder) -> None:
    for name in cfg.experiments:
        sub = folder.path / name
        validate_subrun(_experiment(name), sub)
        if (sub / "results.json").is_file():
            _finished_verdicts(name, read_results(sub), sub, _configure(cfg, name,
                                                                         folder.path))


def _sub_run(name: str, sub_cfg: Any, prepared: Any, folder: RunFolder, log
             ) -> tuple[dict[str, Any], Report | None]:
    sub = folder.path / name
    if (sub / "results.json").is_file():
        log(f"== {name}: finished earlier ==")
        return read_results(sub), read_report(sub)
    log(f"== {name} ({sub_cfg.profile} profile) ==")
    t0 = time.perf_counter()
    try:
        _, report, results = execute(_experiment(name), sub_cfg, folder.path,
                                     resume=sub if sub.is_dir() else None, name=name, log=log,
                                     prepared=prepared)
    except Interrupted:
        raise KeyboardInterrupt from None  # reproduce's own lifecycle says how to resume
    results = to_plain(results)
    results["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return results, report


def _report(cfg: ReproduceConfig, results: dict[str, dict[str, Any]],
            reports: dict[str, Report | None], verdicts: list[Verdict], seconds: float,
            size: int) -> Report:
    claims = {k: c for name in results for k, c in _experiment(name).claims.items()}
    lines: list[Block] = [
        heading(1, f"chanpos reproduce — profile `{cfg.profile}`"), "",
        "Islam et al., \"Global Pooling, More than Meets the Eye: Position Information is "
        "Encoded Channel-Wise in CNNs\", ICCV 2021: every claim the profile tests.", "",
        f"Machine: {machine_description()} · total {seconds:.0f} s in this invocation · run "
        f"folder {size / 1e6:.1f} MB", "",
        heading(2, "Verdicts"), "", *verdict_table(verdicts, claims), "",
        figure("every claim's effect with its 95 % interval", "verdicts.png"), "",
        "| experiment | folder | seconds (its own run) |", "|---|---|---|",
        *[f"| {n} | [{n}/]({n}/report.md) | {r.get('seconds', 0):.0f} |"
          for n, r in results.items()], ""]
    for name, report in reports.items():
        if report is None:  # a sub-run of a chanpos without report.json: link it
            lines += [heading(2, name), "", f"See [{name}/report.md]({name}/report.md).", ""]
        else:
            lines += report.nested(1, f"{name}/")
    return Report(lines)


def _run(cfg: ReproduceConfig, prepared: dict[str, tuple[Any, Any]], folder: RunFolder,
         log) -> Outcome:
    start = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    reports: dict[str, Report | None] = {}
    for name in cfg.experiments:
        sub_cfg, inputs = prepared[name]
        if sub_cfg is None and not (folder.path / name / "results.json").is_file():
            sub_cfg = _configure(cfg, name, folder.path, finished=True)
        results[name], reports[name] = _sub_run(name, sub_cfg, inputs, folder, log)
    seconds = time.perf_counter() - start
    verdicts = [v for name, r in results.items() for v in _finished_verdicts(
        name, r, folder.path / name, _configure(cfg, name, folder.path))]
    size = sum(p.stat().st_size for p in folder.path.rglob("*") if p.is_file())
    report = _report(cfg, results, reports, verdicts, seconds, size)
    summary = {n: {"folder": n, "seconds": r.get("seconds"), "verdicts": r.get("verdicts", [])}
               for n, r in results.items()}
    plots = [lambda p: save_figure(verdict_figure(verdicts), p / "verdicts.png")] if verdicts \
        else []
    return Outcome({"experiment": "reproduce", "profile": cfg.profile,
                    "machine": machine_description(), "seconds": round(seconds, 1),
                    "folder_bytes": size, "experiments": summary,
                    "verdicts": [v.as_dict() for v in verdicts]}, report, plots)


EXPERIMENT = Experiment(name="reproduce", config=reproduce_config,
                        prepare=lambda cfg: _prepare(cfg), run=_run,
                        validate_folder=_validate_folder,
                        prepare_reopened=lambda cfg, folder: _prepare(cfg, folder.path))
