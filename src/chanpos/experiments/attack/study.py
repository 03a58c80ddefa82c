"""`chanpos attack --study`: which factors change the Figure 4 and Figure 6 verdicts?

Each cell of `profiles/attack_study.yaml` is one whole attack run (every model seed of the
profile) with one factor changed: backbone pretraining, position-only labels, output stride.
The study report puts the cells' verdicts side by side and says, for every pair of cells that
differ only in pretraining, whether pretraining changed a verdict (only when both cells decided
theirs) and by how much it moved the effect (a Welch interval over the two cells' models).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from ...errors import ChanposError
from ..lifecycle import Experiment, Interrupted, Outcome, check_subrun, execute, read_results
from ..reporting import fmt
from ..runs import RunFolder, machine_description, to_plain
from ..settings import from_plain, setting
from ..verdicts import welch_interval
from .aggregate import figure4_effects, figure6_effects
from .config import NO_PRETRAIN, AttackConfig, attack_config
from .results import AttackModelRow

__all__ = ["StudyConfig", "study_config", "study_cells", "EXPERIMENT"]


@dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """The study's profile, the cells to run and the attack settings given on the command
    line (they apply to every cell; a cell's own factor wins)."""

    profile: str = setting(help="The profile of profiles/attack_study.yaml and attack.yaml.")
    study_cells: tuple[str, ...] = setting(help="The study cells to run.", metavar="LIST")
    attack: dict[str, Any] = setting(help="Attack settings for every cell (the attack command's "
                                     "flags).")

    def cell_config(self, name: str) -> AttackConfig:
        """The attack configuration of cell `name`: profile + common + overrides + the cell."""
        common, cells = study_cells(self.profile)
        return attack_config(self.profile, {**common, **self.attack, **cells[name]})


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
    """A profile name (or saved settings) + `study_cells` + attack settings -> the study."""
    over = dict(overrides or {})
    if isinstance(base, str):
        values: dict[str, Any] = {"profile": base, "study_cells": None, "attack": {}}
    else:
        values = {**base, "attack": dict(base.get("attack") or {})}
    cells = over.pop("study_cells", None)
    over.pop("profile", None)
    values["attack"].update(over)
    _, all_cells = study_cells(values["profile"])
    values["study_cells"] = list(cells or values["study_cells"] or all_cells)
    unknown = [c for c in values["study_cells"] if c not in all_cells]
    if unknown:
        raise ChanposError(f"unknown study cell {unknown[0]!r} in --study-cells; choose from: "
                           f"{', '.join(all_cells)}")
    values["attack"] = to_plain(values["attack"])
    cfg = from_plain(StudyConfig, values, where="study settings")
    for name in cfg.study_cells:  # every cell's settings are valid before anything runs
        cfg.cell_config(name)
    return cfg


def _prepare(cfg: StudyConfig) -> dict[str, AttackConfig]:
    return {name: cfg.cell_config(name) for name in cfg.study_cells}


def _check_folder(cfg: StudyConfig, folder: RunFolder) -> None:
    """Every cell's sub-run: a damaged results.json or sub-folder is one line."""
    from . import EXPERIMENT as ATTACK

    for name in cfg.study_cells:
        check_subrun(ATTACK, folder.path / "cells" / name)


def _cell_results(name: str, cell_cfg: AttackConfig, folder: RunFolder, log) -> dict[str, Any]:
    from . import EXPERIMENT as ATTACK

    sub = folder.path / "cells" / name
    if (sub / "results.json").is_file():
        log(f"== study cell {name}: finished earlier ==")
        return read_results(sub)
    log(f"== study cell {name} ==")
    try:
        _, _, results = execute(ATTACK, cell_cfg, folder.path / "cells",
                                resume=sub if sub.is_dir() else None, name=name,
                                log=lambda m: log(f"[{name}] {m}"))
    except Interrupted:
        raise KeyboardInterrupt from None  # the study's own lifecycle says how to resume
    return to_plain(results)


def _verdict(results: dict[str, Any], claim: str) -> dict[str, Any] | None:
    return next((v for v in results["verdicts"] if v["claim"] == claim), None)


def _vtext(v: dict[str, Any] | None) -> str:
    if v is None:
        return "–"
    lo, hi = v["ci95"]
    ci = "" if lo is None else f" [{lo:+.2f}, {hi:+.2f}]"
    failed = [c["check"] for c in v.get("checks", []) if not c["passed"]]
    why = f" ({', '.join(failed)} failed)" if failed else ""
    return f"{v['effect']:+.2f}{ci} **{v['verdict']}**{why}"


def _model_effects(results: dict[str, Any], claim: str) -> list[float]:
    """One effect of `claim` per trained model of a cell (its random draws averaged)."""
    rows = [from_plain(AttackModelRow, m, where="study cell results", complete=True)
            for m in results["models"]]
    effects = figure4_effects if claim == "figure4" else figure6_effects
    return [v for row in rows for v in effects(row)]


def _compare(results: dict[str, dict[str, Any]], a: str, b: str, claim: str
             ) -> dict[str, Any] | None:
    """Pretrained cell `a` against scratch cell `b` on `claim`: the verdicts, whether the
    change is decided, and the difference of effects with its Welch interval."""
    va, vb = _verdict(results[a], claim), _verdict(results[b], claim)
    if va is None or vb is None:
        return None
    diff, lo, hi = welch_interval(_model_effects(results[a], claim),
                                  _model_effects(results[b], claim))
    undecided = [n for n, v in ((a, va), (b, vb)) if v["verdict"] == "inconclusive"]
    if undecided:
        outcome = "undecided"
        says = f"not decided: {' and '.join(undecided)} inconclusive"
    elif va["verdict"] == vb["verdict"]:
        outcome, says = "unchanged", "unchanged by pretraining"
    else:
        outcome, says = "changed", "**changed** by pretraining"
    ci = "" if lo is None else f" [{lo:+.2f}, {hi:+.2f}]"
    text = (f"- {claim}: {a} → {va['verdict']}, {b} → {vb['verdict']}: {says}; effect "
            f"difference {diff:+.2f}{ci} ({len(results[a]['models'])} + "
            f"{len(results[b]['models'])} models)")
    return {"claim": claim, "pretrained": a, "scratch": b, "outcome": outcome,
            "effect_difference": round(diff, 4),
            "ci95": [None if lo is None else round(lo, 4), None if hi is None else round(hi, 4)],
            "text": text}


def _pretraining_pairs(cfg: StudyConfig) -> list[tuple[str, str]]:
    """(pretrained cell, scratch cell) pairs whose settings differ only in `pretrain`."""
    _, cells = study_cells(cfg.profile)
    pairs = []
    for a in cfg.study_cells:
        for b in cfg.study_cells:
            sa, sb = dict(cells[a]), dict(cells[b])
            if sb.get("pretrain") == NO_PRETRAIN and sa.get("pretrain") != NO_PRETRAIN:
                sb.pop("pretrain")
                sa.pop("pretrain", None)
                if sa == sb:
                    pairs.append((a, b))
    return pairs


def _run(cfg: StudyConfig, configs: dict[str, AttackConfig], folder: RunFolder, log) -> Outcome:
    results = {name: _cell_results(name, configs[name], folder, log) for name in cfg.study_cells}
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
    comparisons = [c for a, b in pairs for claim in ("figure4", "figure6")
                   if (c := _compare(results, a, b, claim)) is not None]
    if comparisons:
        lines += ["", "## Does pretraining change the verdicts?", "",
                  "Difference of the claim's effect, pretrained − scratch: Welch's 95 % t "
                  "interval over the two cells' trained models (independent groups). A change "
                  "of verdict counts only when both cells decided theirs.", ""]
        lines += [c["text"] for c in comparisons]
    lines.append("")
    return Outcome({"experiment": "attack-study", "profile": cfg.profile,
                    "machine": machine_description(), "cells": rows,
                    "pretraining_pairs": pairs,
                    "pretraining_comparisons": [{k: v for k, v in c.items() if k != "text"}
                                                for c in comparisons]}, "\n".join(lines))


EXPERIMENT = Experiment(name="attack-study", config=study_config, prepare=_prepare, run=_run,
                        check_folder=_check_folder)
