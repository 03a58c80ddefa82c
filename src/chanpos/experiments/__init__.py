"""The catalogue of what chanpos runs: one registry line per experiment (the paper's
artefacts and the audit, one package each) and per one-shot tool. The command line,
`--resume`, `chanpos reproduce` and the tests all read this registry.

Adding an experiment: a package with the modules every experiment has (config, rows, prepare,
cells, claims, report, experiment, profiles.yaml) and one `register(Entry(...))` line here.
Torch-free: `chanpos --help` imports only this and the config modules.
"""

from __future__ import annotations

from ..runs.registry import Entry, register

register(Entry(
    "table1", "chanpos.experiments.table1", "Table1Config", reproduce=True,
    help="Table 1: GAPNet vs PermuteNet on the grid setting (location and object tasks)."))
register(Entry(
    "table2", "chanpos.experiments.table2", "Table2Config", reproduce=True,
    help="Table 2: AugShift vs baseline, BlurPool and equal compute (top-1 and shift "
         "consistency)."))
register(Entry(
    "attack", "chanpos.experiments.attack", "AttackConfig", reproduce=True,
    help="Figures 4-6: rank position-encoding channels, zero the top N vs N random ones."))
register(Entry(
    "attack-study", "chanpos.experiments.attack", "StudyConfig", config_module="study_config",
    module="study", profiles="study_profiles.yaml", variant_of="attack", flag="study",
    configure="study_config",
    help="Run the factor study (study_profiles.yaml) instead of one attack; each arm is a "
         "whole attack run."))
register(Entry(
    "audit", "chanpos.experiments.audit", "AuditConfig", reproduce=True, needs=("table1",),
    help="Audit a trained CNN: does position survive its global pooling, is it carried by the "
         "channel order, which layers and channels hold it (probes, PosENet readout, flip "
         "scores, controls)."))
register(Entry(
    "attack-real", "chanpos.experiments.attack", "AttackConfig", module="real_experiment",
    profiles="real_profiles.yaml", configure="attack_real_config", reproduce=True,
    help="Figures 4-6 on a real pretrained network attacked as it is (default: PaddleOCR's "
         "DBNet text detector on rendered text; needs the extra 'real')."))
register(Entry(
    "audit-real", "chanpos.experiments.audit", "AuditConfig", module="real_experiment",
    profiles="real_profiles.yaml", configure="audit_real_config", reproduce=True,
    help="Audit a real pretrained classifier as it is (default: PaddleOCR's MobileNetV3 "
         "text-direction classifier on its own 48 x 192 text-line format; needs the extra "
         "'real')."))
register(Entry(
    "rank", "chanpos.tools.rank", "RankConfig", profiles=None, resumable=False,
    help="Audit a model: rank the channels of a layer by flip difference (Figures 4-6's "
         "ranking)."))
register(Entry(
    "consistency", "chanpos.tools.consistency", "ConsistencyConfig", profiles=None,
    resumable=False,
    help="Top-1 and shift consistency (Zhang 2019) of a trained classifier checkpoint."))
register(Entry(
    "layers", "chanpos.tools.layers", "LayersConfig", profiles=None, resumable=False,
    help="List a model's layers with their output shapes, and the layer and stages chanpos "
         "probes by default (and why)."))
register(Entry(
    "reproduce", "chanpos.experiments.reproduce", "ReproduceConfig", profiles=None,
    help="Every experiment of the paper with one profile, and one combined report.md."))
