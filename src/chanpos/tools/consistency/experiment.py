"""`chanpos consistency`: top-1 and shift consistency (Zhang 2019) of a trained chanpos
classifier checkpoint, the Table 2 metric on a user's own model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ...data import TileDataset, load_source
from ...errors import ChanposError
from ...models import ModelSpec, load_any_model, load_model_checkpoint, model_statistics, read_checkpoint
from ...ops import Normalise, check_shift, eval_device
from ...ops.normalise import choose_normalisation
from ...ops.shifts import check_in_view
from ...probes.invariance import shift_consistency, shift_protocol
from ...runs.folders import RunFolder, machine_description
from ...runs.lifecycle import Experiment, Outcome
from ...runs.reporting import Report, heading
from ...runs.validate import require_at_most
from .config import ConsistencyConfig, consistency_config

__all__ = ["EXPERIMENT", "measure", "Prepared"]


@dataclass
class Prepared:
    """The loaded model, its spec, the test images and the source they come from."""

    model: Any
    spec: ModelSpec
    test: Any
    source: str
    normalisation: tuple[tuple[float, ...], tuple[float, ...], str]


def _model(cfg: ConsistencyConfig) -> tuple[Any, ModelSpec]:
    """The classifier: a chanpos file rebuilds its own; another file is the weights of the
    torchvision (or chanpos) architecture --model names."""
    path = Path(cfg.checkpoint)
    if "chanpos_model" in read_checkpoint(path):
        wanted = ("classifier",) if cfg.model is None else (cfg.model,)
        return load_model_checkpoint(path, expect=wanted)
    if cfg.model is None:
        raise ChanposError(f"{path} is not a chanpos model file, so it does not name its "
                           "architecture: give --model (e.g. resnet18)")
    return None, ModelSpec(cfg.model, {})


def _outputs(model: Any, test: Any) -> int:
    """How many classes `model` predicts (one forward of one test image)."""
    with torch.no_grad():
        return int(model.eval()(Normalise(test.mean, test.std)(test.images[:2])).shape[1])


def _prepare(cfg: ConsistencyConfig) -> Prepared:
    model, spec = _model(cfg)
    source = cfg.source or spec.meta.source
    if source is None:
        raise ChanposError(f"{cfg.checkpoint} does not say which source it was trained on; "
                           "pass --source")
    test = load_source(source, split="test", data_root=cfg.data_root,
                       download=cfg.download, num_samples=cfg.test_samples)
    require_at_most(cfg.test_samples, len(test), flag="--test-samples",
                    what=f"{source} test images")
    if model is None:
        model, _ = load_any_model(cfg.model, Path(cfg.checkpoint), test.num_classes)
    outputs = _outputs(model, test)
    if outputs != test.num_classes:
        raise ChanposError(f"{cfg.checkpoint} predicts {outputs} classes but source "
                           f"{source!r} has {test.num_classes}; pass the --source it was "
                           "trained on")
    check_shift(cfg.max_shift, cfg.shift_mode, tuple(test.images.shape[-2:]))
    check_in_view(cfg.max_shift, tuple(test.images.shape[-2:]), f"{source} images")
    own = ((spec.meta.mean, spec.meta.std) if spec.meta.mean is not None
           else model_statistics(cfg.model, Path(cfg.checkpoint)))
    chosen = choose_normalisation((cfg.mean, cfg.std), own, (test.mean, test.std))
    return Prepared(model, spec, test, source, chosen)


def measure(cfg: ConsistencyConfig, model: Any, test: Any,
            normalisation: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """`shift_consistency`'s dict for `model` on `test` under the protocol of `cfg`
    (normalised with `normalisation` = (mean, std), default the images' own)."""
    dev = eval_device(cfg.accelerator)
    normalise = Normalise(*(normalisation or (test.mean, test.std)))
    batches = [(normalise(x), y) for x, y, _ in DataLoader(
        TileDataset(test), batch_size=cfg.batch_size, collate_fn=TileDataset.collate)]
    return shift_consistency(model.to(dev), batches, cfg.max_shift, cfg.shift_mode,
                             pairs=cfg.pairs, seed=cfg.seed, device=dev)


def _run(cfg: ConsistencyConfig, prepared: Prepared, folder: RunFolder, log) -> Outcome:
    spec = prepared.spec
    with torch.no_grad():
        r = measure(cfg, prepared.model, prepared.test, prepared.normalisation[:2])
    told = "" if cfg.source else " (from the model file)"
    results = {"experiment": "consistency", "checkpoint": cfg.checkpoint,
               "model": spec.to_plain(), "source": prepared.source,
               "normalisation": {"mean": list(prepared.normalisation[0]),
                                 "std": list(prepared.normalisation[1]),
                                 "from": prepared.normalisation[2]},
               "machine": machine_description(), **r}
    report = Report([
        heading(1, f"Shift consistency of `{cfg.checkpoint}`"), "",
        f"Model: {spec.describe()} · source `{prepared.source}`{told}, {r['images']} test "
        "images",
        f"Normalisation: mean {prepared.normalisation[0]}, std {prepared.normalisation[1]} "
        f"({prepared.normalisation[2]})",
        f"Protocol: {shift_protocol(cfg.max_shift, cfg.shift_mode, cfg.pairs, cfg.seed)}",
        "", "| top-1 % | consistency % |", "|---|---|",
        f"| {r['top1_pct']:.2f} | {r['consistency_pct']:.2f} |", ""])
    return Outcome(results, report)


EXPERIMENT = Experiment(name="consistency", config=consistency_config, prepare=_prepare, run=_run)
