"""`chanpos attack --study`: which factors change the Figure 4 and Figure 6 verdicts?

Each cell of `profiles/attack_study.yaml` is one whole attack run (every model seed of the
profile) with one factor changed: backbone pretraining, position-only labels, output stride.
The study report puts the cells' verdicts side by side and says, for every pair of cells that
differ only in pretraining, whether pretraining changed a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from ...errors import ChanposError
from ..lifecycle import Experiment, Interrupted, Outcome, execute, from_plain
from ..reporting import fmt
from ..runs import RunFolder, machine_description
from .config import NO_PRETRAIN, AttackConfig, attack_config

__all__ = ["StudyConfig", "study_config", "study_cells", "EXPERIMENT"]


@dataclass(frozen=True)
class StudyConfig:
    """The study's profile, the cells to run and the command-line attack overrides."""

    profile: str
    cells: tuple[str, ...]
    overrides: dict[str, Any] = field(default_factory=dict)

    def cell_config(self, name: str) -> AttackConfig:
        """The attack configuration of cell `name`: profile + common + overrides + the cell."""
        common, cells = study_cells(self.profile)
        return attack_config(self.profile, {**common, **self.overrides, **cells[name]})


def study_cells(profile: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(common overrides, {cell name: cell overrides}) of the study for `profile`."""
    text = resources.files("chanpos.experiments").joinpath("profiles/attack_study.yaml")
    doc = yaml.safe_load(text.read_text(encoding="utf-8"))
    if profile not in doc:
        raise ChanposError(f"no attack study for profile {profile!r}; choose one of: "
                           f"{', '.join(sorted(doc))}")
    return dict(doc[profile].get("common") or {}), dict(doc[profile]["cells"])


def study_config(base: str | Mapping[str, Any] = "quick",
                 overrides: Mapping[str, Any] | None = None) -> StudyConfig:
    """Resolve the study: a profile name (or saved settings) + `study_cells` + attack overrides."""
    over = {k: v for k, v in (overrides or {}).items() if v is not None}
    if isinstance(base, str):
        values: dict[str, Any] = {"profile": base, "cells": None, "overrides": {}}
    else:
        values = {**base, "overrides": dict(base.get("overrides") or {})}
    cells = over.pop("study_cells", None)
    values["overrides"].update(over)
    _, all_cells = study_cells(values["profile"])
    values["cells"] = cells or values["cells"] or list(all_cells)
    unknown = [c for c in values["cells"] if c not in all_cells]
    if unknown:
        raise ChanposError(f"unknown study cell {unknown[0]!r}; choose from: "
                           f"{', '.join(all_cells)}")
    cfg = from_plain(StudyConfig, values, where="study settings")
    for name in cfg.cells:  # every cell's settings are valid before anything runs
        cfg.cell_config(name)
    return cfg


def _prepare(cfg: StudyConfig) -> dict[str, AttackConfig]:
    return {name: cfg.cell_config(name) for name in cfg.cells}


def _cell_results(name: str, cell_cfg: AttackConfig, folder: RunFolder, log) -> dict[str, Any]:
    from . import EXPERIMENT as ATTACK

    sub = folder.path / "cells" / name
    if (sub / "results.json").is_file():
        log(f"== study cell {name}: finished earlier ==")
        return json.loads((sub / "results.json").read_text(encoding="utf-8"))
    log(f"== study cell {name} ==")
    try:
        _, _, results = execute(ATTACK, cell_cfg, folder.path / "cells",
                                resume=sub if sub.is_dir() else None, name=name,
                                log=lambda m: log(f"[{name}] {m}"))
    except Interrupted:
        raise KeyboardInterrupt from None  # the study's own lifecycle says how to resume
    return json.loads(json.dumps(results, default=str))


def _verdict(results: dict[str, Any], claim: str) -> dict[str, Any] | None:
    return next((v for v in results["verdicts"] if v["claim"] == claim), None)


def _vtext(v: dict[str, Any] | None) -> str:
    if v is None:
        return "–"
    lo, hi = v["ci95"]
    ci = "" if lo is None else f" [{lo:+.2f}, {hi:+.2f}]"
    return f"{v['effect']:+.2f}{ci} **{v['verdict']}**"


def _pretraining_pairs(cfg: StudyConfig) -> list[tuple[str, str]]:
    """(pretrained cell, scratch cell) pairs whose settings differ only in `pretrain`."""
    _, cells = study_cells(cfg.profile)
    pairs = []
    for a in cfg.cells:
        for b in cfg.cells:
            sa, sb = dict(cells[a]), dict(cells[b])
            if sb.get("pretrain") == NO_PRETRAIN and sa.get("pretrain") != NO_PRETRAIN:
                sb.pop("pretrain")
                sa.pop("pretrain", None)
                if sa == sb:
                    pairs.append((a, b))
    return pairs


def _run(cfg: StudyConfig, configs: dict[str, AttackConfig], folder: RunFolder, log) -> Outcome:
    results = {name: _cell_results(name, configs[name], folder, log) for name in cfg.cells}
    _, cells = study_cells(cfg.profile)
    rows = []
    lines = [f"# Attack study — which factors change the Figure 4 and 6 verdicts? (profile "
             f"`{cfg.profile}`)", "",
             f"Machine: {machine_description()}. Each cell is one `chanpos attack` run with "
             "every model seed of the profile (its own report in `cells/<cell>/`); verdicts are "
             "effect [95 % t interval over trained models].", "",
             "| cell | settings | models | mean mIoU | figure4 | figure6 | seconds |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        models = r["models"]
        miou = sum(m["baseline_miou"]["all"] for m in models) / len(models)
        settings = ", ".join(f"{k}={v}" for k, v in cells[name].items()) or "(profile as is)"
        f4, f6 = _verdict(r, "figure4"), _verdict(r, "figure6")
        rows.append({"cell": name, "settings": cells[name], "models": len(models),
                     "mean_miou": round(miou, 2), "figure4": f4, "figure6": f6,
                     "seconds": r["seconds"]})
        lines.append(f"| {name} | {settings} | {len(models)} | {fmt(miou)} | {_vtext(f4)} | "
                     f"{_vtext(f6)} | {r['seconds']:.0f} |")
    pairs = _pretraining_pairs(cfg)
    if pairs:
        lines += ["", "## Does pretraining change the verdicts?", ""]
        for a, b in pairs:
            for claim in ("figure4", "figure6"):
                va, vb = _verdict(results[a], claim), _verdict(results[b], claim)
                if va and vb:
                    same = va["verdict"] == vb["verdict"]
                    lines.append(f"- {claim}: {a} → {va['verdict']}, {b} → {vb['verdict']}: "
                                 f"{'unchanged' if same else '**changed**'} by pretraining")
    lines.append("")
    return Outcome({"experiment": "attack-study", "profile": cfg.profile,
                    "machine": machine_description(), "cells": rows,
                    "pretraining_pairs": pairs}, "\n".join(lines))


EXPERIMENT = Experiment(name="attack-study", config=study_config, prepare=_prepare, run=_run)
