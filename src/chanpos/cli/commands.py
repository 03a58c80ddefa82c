"""Every `chanpos` command: each one's options are its experiment's config fields."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from .app import settings_command

__all__: list[str] = []

settings_command(
    "table1", ("table1.config", "Table1Config"), "table1", profiles="table1",
    help="Table 1: GAPNet vs PermuteNet on the grid setting (location and object tasks).")
settings_command(
    "table2", ("table2.config", "Table2Config"), "table2", profiles="table2",
    help="Table 2: AugShift vs baseline, BlurPool and equal compute (top-1 and shift "
         "consistency).")

_STUDY = [
    inspect.Parameter("study", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
        bool, typer.Option(help="Run the factor study (profiles/attack_study.yaml) instead of "
                                "one attack; each cell is a whole attack run.",
                           rich_help_panel="Study")]),
    inspect.Parameter("study_cells", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        str | None, typer.Option(help="With --study: comma list of study cells to run "
                                      "(default: all).", metavar="LIST",
                                 rich_help_panel="Study")]),
]


def _attack_or_study(extras: dict[str, Any]) -> str:
    from ..errors import ChanposError

    if extras.get("study"):
        text = extras.pop("study_cells")
        extras.pop("study")
        if text is not None:
            extras["study_cells"] = tuple(t.strip() for t in text.split(",") if t.strip())
        return "attack.study"
    if extras.get("study_cells") is not None:
        raise ChanposError("--study-cells needs --study")
    extras.clear()
    return "attack"


settings_command(
    "attack", ("attack.config", "AttackConfig"), "attack", profiles="attack", extra=_STUDY,
    choose=_attack_or_study,
    help="Figures 4-6: rank position-encoding channels, zero the top N vs N random ones.")
settings_command(
    "rank", ("attack.config", "RankConfig"), "attack.rank", resumable=False,
    help="Audit a model: rank the channels of a layer by flip difference (Figures 4-6's "
         "ranking).")
settings_command(
    "consistency", ("table2.config", "ConsistencyConfig"), "table2.consistency",
    resumable=False, help="Top-1 and shift consistency (Zhang 2019) of a trained classifier "
                          "checkpoint.")
settings_command(
    "audit", ("audit.config", "AuditConfig"), "audit", profiles="audit",
    help="Audit a trained CNN: does position survive its global pooling, is it carried by the "
         "channel order, which layers and channels hold it (probes, PosENet readout, flip "
         "scores, controls).")
settings_command(
    "reproduce", ("reproduce", "ReproduceConfig"), "reproduce", profiles="reproduce",
    help="Every experiment of the paper with one profile, and one combined report.md.")
