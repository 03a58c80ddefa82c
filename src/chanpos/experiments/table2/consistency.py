"""`chanpos consistency`: top-1 and shift consistency (Zhang 2019) of a trained chanpos
classifier checkpoint, the Table 2 metric on a user's own model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ...data import TileDataset, load_source
from ...ops import Normalise, check_shift
from ...probes.invariance import shift_consistency, shift_protocol
from ...training.evaluate import eval_device
from ..lifecycle import Experiment, Outcome
from ..runs import RunFolder, machine_description
from .config import ConsistencyConfig, consistency_config

__all__ = ["EXPERIMENT", "measure"]


def _prepare(cfg: ConsistencyConfig) -> tuple[Any, dict[str, Any], Any]:
    from ...errors import ChanposError
    from ...models import load_model_checkpoint

    model, spec = load_model_checkpoint(Path(cfg.checkpoint), expect="classifier")
    test = load_source(cfg.source, split="test", data_root=cfg.data_root,
                       download=cfg.download, num_samples=cfg.test_samples)
    outputs = getattr(model, "num_classes", None)
    if outputs != test.num_classes:
        raise ChanposError(f"{cfg.checkpoint} predicts {outputs} classes but source "
                           f"{cfg.source!r} has {test.num_classes}; pass the --source it was "
                           "trained on")
    check_shift(cfg.max_shift, cfg.shift_mode, tuple(test.images.shape[-2:]))
    return model, spec, test


def measure(cfg: ConsistencyConfig, model: Any, test: Any) -> dict[str, Any]:
    """`shift_consistency`'s dict for `model` on `test` under the protocol of `cfg`."""
    dev = eval_device(cfg.accelerator)
    normalise = Normalise(test.mean, test.std)
    batches = [(normalise(x), y) for x, y, _ in DataLoader(
        TileDataset(test), batch_size=cfg.batch_size, collate_fn=TileDataset.collate)]
    return shift_consistency(model.to(dev), batches, cfg.max_shift, cfg.shift_mode,
                             pairs=cfg.pairs, seed=cfg.seed, device=dev)


def _run(cfg: ConsistencyConfig, prepared: Any, folder: RunFolder, log) -> Outcome:
    model, spec, test = prepared
    with torch.no_grad():
        r = measure(cfg, model, test)
    results = {"experiment": "consistency", "checkpoint": cfg.checkpoint, "model": spec,
               "source": cfg.source, "machine": machine_description(), **r}
    report = "\n".join([
        f"# Shift consistency of `{cfg.checkpoint}`", "",
        f"Model: {spec['name']} {spec.get('kwargs', {})} · source `{cfg.source}`, "
        f"{r['images']} test images",
        f"Protocol: {shift_protocol(cfg.max_shift, cfg.shift_mode, cfg.pairs, cfg.seed)}",
        "", "| top-1 % | consistency % |", "|---|---|",
        f"| {r['top1_pct']:.2f} | {r['consistency_pct']:.2f} |", ""])
    return Outcome(results, report)


EXPERIMENT = Experiment(name="consistency", config=consistency_config, prepare=_prepare, run=_run,
                        resumable=False)
