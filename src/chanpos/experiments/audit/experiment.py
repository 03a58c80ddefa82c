"""The audit as an `Experiment` of the run lifecycle: (train the model,) probe, read out,
rank, then the verdicts."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any

from ...probes.position import stage_features
from ...runs.cells import run_cells
from ...runs.folders import RunFolder, machine_description
from ...runs.lifecycle import Experiment, Outcome
from ...runs.progress import phase
from ...runs.reporting import plot_validation_curves
from .cells import train_model, trained_model
from .claims import CLAIMS, audit_verdicts
from .config import AuditConfig, audit_config, audit_real_config
from .prepare import AuditInputs, fresh_copy, layers, prepare_audit, sample_canvases
from .probing import (
    build_controls,
    channel_stages,
    device_of,
    probe_replicate,
    readout_images,
    readout_rows,
    top_k_rows,
)
from .report import format_audit, plot_readout
from .rows import AuditModelRow

__all__ = ["EXPERIMENT", "run_audit", "from_needs"]



def run_audit(cfg: AuditConfig, inputs: AuditInputs, folder: RunFolder, log=print
              ) -> dict[str, Any]:
    """Every part of the audit -> the facts, rows and verdicts the report is made of."""
    start = time.perf_counter()
    training = None
    if inputs.model is None:
        (training,) = run_cells(cfg, [0], ["model"], train_model, (inputs, folder),
                                folder=folder, row_type=AuditModelRow, key_of=lambda r: r.key,
                                log=log, describe=lambda r: f"test top-1 {r.test_top1_pct:.1f} "
                                f"%, {r.training.epochs} epochs")
        model = trained_model(folder)
    else:
        model = inputs.model
    sample = sample_canvases(inputs.test, cfg.grid_size, cfg.grid_rows)
    layer, stages = layers(cfg, model, sample)
    models = build_controls(model, fresh_copy(model, cfg.seed + 1000), layer, stages,
                            inputs.origin, sample, row=cfg.rows() == 1)
    models.shuffle_trained = inputs.shuffle_trained
    device = device_of(cfg)
    for net in models.by_control().values():
        net.to(device)
    if models.shuffle_trained is not None:
        models.shuffle_trained.eval().to(device)
    log(f"probing `{models.layer}` ({cfg.replicates} replicates)")
    reps = []
    with phase("probes", cfg.replicates, cfg.progress, "replicate") as bar:
        for r in range(cfg.replicates):
            reps.append(probe_replicate(models, inputs.train, inputs.test, k=cfg.grid_size,
                                        n=cfg.probe_samples, n_test=cfg.probe_test_samples,
                                        replicate=r, seed=cfg.seed + r, rows=cfg.grid_rows))
            bar.step()
    controls = models.by_control()
    log(f"position readouts on {len(models.stages)} stages x {len(controls)} networks + the "
        "image alone")
    train_x = readout_images(inputs.train, 0, cfg.readout_samples, cfg.image_size)
    test_x = readout_images(inputs.test, 0, cfg.readout_test_samples, cfg.image_size)
    with phase("readouts", len(controls) * (len(models.stages) + 1) + 1, cfg.progress,
               "readout") as bar:
        readout, precision = readout_rows(models, train_x, test_x, cfg, step=bar.step)
    ranked = list(dict.fromkeys((*models.stages, models.layer)))
    with phase("ranking", len(ranked), cfg.progress, "layer") as bar:
        stages, orders = channel_stages(models, test_x, device=device, step=bar.step)
    # the probed layer's maps, computed again rather than held through the readouts
    features = [stage_features(models.model, [models.layer], x, cfg.readout_size)[0]
                for x in (train_x, test_x)]
    topk = top_k_rows(features, orders[models.layer], models.layer, cfg)
    tile = int(inputs.train.images.shape[-1])  # the width a cell shift moves by
    aligned = None if models.total_stride is None else tile % models.total_stride == 0
    verdicts = audit_verdicts(reps, cfg, aligned, training)
    subject = cfg.network_name()  # a real network's verdicts name it: audit.pooled_position.x
    if subject is not None:
        verdicts = [replace(v, claim=f"{v.claim}.{subject}") for v in verdicts]
    facts = {"model": inputs.name, "origin": inputs.origin, "layer": models.layer,
             "normalisation": inputs.normalisation, "readout_precision": precision,
             "stages": list(models.stages),
             "num_classes": inputs.train.num_classes, "total_stride": models.total_stride,
             "tile": tile,
             "seconds": time.perf_counter() - start,
             "training": asdict(training) if training else None}
    return {"facts": facts, "training": training, "replicates": reps, "readout": readout,
            "channel_stages": stages,
            "top_k": topk, "verdicts": verdicts}


def _run(cfg: AuditConfig, inputs: AuditInputs, folder: RunFolder, log) -> Outcome:
    out = run_audit(cfg, inputs, folder, log=log)
    report = format_audit(cfg, out["facts"], out["verdicts"], out["replicates"], out["readout"],
                          out["channel_stages"], out["top_k"])
    results = {"experiment": "audit", "profile": cfg.profile, "machine": machine_description(),
               **out["facts"], "replicates": out["replicates"], "readout": out["readout"],
               "channel_stages": out["channel_stages"], "top_k": out["top_k"],
               "verdicts": [v.as_dict() for v in out["verdicts"]],
               "seconds": round(out["facts"]["seconds"], 1)}
    plots = [lambda p: plot_readout(out["readout"], cfg.maps, p / "readout_spc.png")]
    if out["training"] is not None:
        plots.append(lambda p: plot_validation_curves(
            {"the audited model": [(f"seed {cfg.seed}", out["training"].training)]},
            p / "validation_curves.png"))
    return Outcome(results, report, plots)


def from_needs(products: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Settings that audit the classifier another experiment offers (Table 1's GAPNet in
    `chanpos reproduce`): its file, its architecture, and the data it was trained on."""
    (offer,) = products.values()
    return {"model": offer["model"], "checkpoint": offer["classifier"],
            "control_checkpoint": offer.get("shuffle_trained"),
            "source": offer["source"], "grid_size": offer["grid_size"], "seed": offer["seed"],
            "classes": offer.get("classes")}


EXPERIMENT = Experiment(name="audit", config=audit_config, prepare=prepare_audit, run=_run,
                        row=AuditModelRow, claims=CLAIMS, from_needs=from_needs)
# `chanpos audit-real`: the same audit with the profiles of a real pretrained classifier
REAL_EXPERIMENT = replace(EXPERIMENT, name="audit-real", config=audit_real_config,
                          from_needs=None)
