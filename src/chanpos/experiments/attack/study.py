"""`chanpos attack --study`: which factors change the Figure 4 and Figure 6 verdicts?

Each arm of `study_profiles.yaml` is one whole attack run (every model seed of the profile)
with one factor changed: backbone pretraining, position-only labels, output stride. The study
report puts the arms' verdicts side by side and says, for every pair of arms that differ only
in pretraining, whether pretraining changed a verdict (only when both arms decided theirs) and
by how much it moved the effect (a Welch interval over the two arms' models).
"""

from __future__ import annotations

from typing import Any

from ...runs.compose import sub_config
from ...runs.folders import RunFolder, machine_description, to_plain
from ...runs.lifecycle import (
    Experiment,
    Interrupted,
    Outcome,
    execute,
    read_results,
    validate_subrun,
)
from ...runs.reporting import Report, fmt, heading
from ...runs.settings import from_plain
from ...verdicts import welch_interval
from .claims import figure4_effects, figure6_effects
from .config import NO_PRETRAIN, AttackConfig
from .rows import AttackModelRow
from .study_config import StudyConfig, study_arms, study_config

__all__ = ["EXPERIMENT"]


ARMS = "arms"  # the sub-folder holding one attack run folder per arm


def _attack() -> Any:
    from .experiment import EXPERIMENT as ATTACK

    return ATTACK


def _prepare(cfg: StudyConfig) -> dict[str, AttackConfig]:
    return {name: cfg.arm_config(name) for name in cfg.study_arms}


def _prepare_reopened(cfg: StudyConfig, folder: RunFolder) -> dict[str, AttackConfig]:
    """A started arm keeps its saved settings; the others compose from the study's."""
    return {name: sub_config(_attack(), folder.path / ARMS / name, cfg.profile,
                             cfg.arm_overrides(name)) for name in cfg.study_arms}


def _validate_folder(cfg: StudyConfig, folder: RunFolder) -> None:
    """Every arm's sub-run: a damaged results.json or sub-folder is one line."""
    for name in cfg.study_arms:
        validate_subrun(_attack(), folder.path / ARMS / name)


def _arm_results(name: str, arm_cfg: AttackConfig, folder: RunFolder, log) -> dict[str, Any]:
    sub = folder.path / ARMS / name
    if (sub / "results.json").is_file():
        log(f"== study arm {name}: finished earlier ==")
        return read_results(sub)
    log(f"== study arm {name} ==")
    try:
        _, _, results = execute(_attack(), arm_cfg, folder.path / ARMS,
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
    rows = [from_plain(AttackModelRow, m, where="study arm results", complete=True)
            for m in results["models"]]
    effects = figure4_effects if claim == "figure4" else figure6_effects
    return [v for row in rows for v in effects(row)]


def _compare(results: dict[str, dict[str, Any]], a: str, b: str, claim: str
             ) -> dict[str, Any] | None:
    """Pretrained arm `a` against scratch arm `b` on `claim`: the verdicts, whether the
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
    """(pretrained arm, scratch arm) pairs whose settings differ only in `pretrain`."""
    _, arms = study_arms(cfg.profile)
    pairs = []
    for a in cfg.study_arms:
        for b in cfg.study_arms:
            sa, sb = dict(arms[a]), dict(arms[b])
            if sb.get("pretrain") == NO_PRETRAIN and sa.get("pretrain") != NO_PRETRAIN:
                sb.pop("pretrain")
                sa.pop("pretrain", None)
                if sa == sb:
                    pairs.append((a, b))
    return pairs


def _run(cfg: StudyConfig, configs: dict[str, AttackConfig], folder: RunFolder, log) -> Outcome:
    results = {name: _arm_results(name, configs[name], folder, log) for name in cfg.study_arms}
    _, arms = study_arms(cfg.profile)
    rows = []
    lines: list[Any] = [
        heading(1, "Attack study — which factors change the Figure 4 and 6 verdicts? (profile "
                   f"`{cfg.profile}`)"), "",
        f"Machine: {machine_description()}. Each arm is one `chanpos attack` run with every "
        f"model seed of the profile (its own report in `{ARMS}/<arm>/`); verdicts are effect "
        "[95 % t interval over trained models].", "",
        "| arm | settings | models | mean mIoU | figure4 | figure6 | seconds |",
        "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        models = r["models"]
        miou = sum(m["baseline_miou"]["all"] for m in models) / len(models)
        settings = ", ".join(f"{k}={v}" for k, v in arms[name].items()) or "(profile as is)"
        f4, f6 = _verdict(r, "figure4"), _verdict(r, "figure6")
        rows.append({"arm": name, "settings": arms[name], "models": len(models),
                     "mean_miou": round(miou, 2), "figure4": f4, "figure6": f6,
                     "seconds": r["seconds"]})
        lines.append(f"| {name} | {settings} | {len(models)} | {fmt(miou)} | {_vtext(f4)} | "
                     f"{_vtext(f6)} | {r['seconds']:.0f} |")
    pairs = _pretraining_pairs(cfg)
    comparisons = [c for a, b in pairs for claim in ("figure4", "figure6")
                   if (c := _compare(results, a, b, claim)) is not None]
    if comparisons:
        lines += ["", heading(2, "Does pretraining change the verdicts?"), "",
                  "Difference of the claim's effect, pretrained − scratch: Welch's 95 % t "
                  "interval over the two arms' trained models (independent groups). A change "
                  "of verdict counts only when both arms decided theirs.", ""]
        lines += [c["text"] for c in comparisons]
    lines.append("")
    return Outcome({"experiment": "attack-study", "profile": cfg.profile,
                    "machine": machine_description(), "arms": rows,
                    "pretraining_pairs": pairs,
                    "pretraining_comparisons": [{k: v for k, v in c.items() if k != "text"}
                                                for c in comparisons]}, Report(lines))


EXPERIMENT = Experiment(name="attack-study", config=study_config, prepare=_prepare, run=_run,
                        validate_folder=_validate_folder, prepare_reopened=_prepare_reopened)
