"""The audit and the attack as Python calls on a model in memory.

`audit(model, train, test, mean=..., std=...)` and `attack(model, evaluation, held_out,
mean=..., std=...)` run the experiment the commands run (the same profile, settings,
controls and verdict rule), write the same run folder, and return a `RunResult`: the
verdicts as `Verdict` objects, results.json's content, the report and the folder.

Loaders yield `(images, labels)` batches: images (B, 3, H, W), uint8 or float in [0, 1]
(torchvision's `ToTensor`, before any `Normalize`: chanpos normalises with `mean`/`std`,
the statistics the model was trained with); labels (B,) class indices for the audit,
(B, H, W) class maps for the attack (`ignore_index` where unlabelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .errors import ChanposError
from .names import CALLER_SOURCE as IN_MEMORY
from .verdicts import Verdict

__all__ = ["RunResult", "audit", "attack", "images_of", "masks_of"]


@dataclass(frozen=True)
class RunResult:
    """What a command writes, in memory: the run folder, the typed verdicts, the content of
    results.json and the report (markdown)."""

    folder: Path
    verdicts: tuple[Verdict, ...]
    results: dict[str, Any]
    report: str

    def verdict(self, claim: str) -> Verdict:
        """The verdict on `claim` (e.g. "audit.pooled_position", "figure4")."""
        for v in self.verdicts:
            if v.claim == claim:
                return v
        raise KeyError(f"no verdict on {claim!r}; these are: "
                       f"{', '.join(v.claim for v in self.verdicts)}")


def _uint8(images: Tensor, where: str) -> Tensor:
    """A batch of images as uint8, refusing what looks normalised already (one line)."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ChanposError(f"{where}: images must be (B, 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    lo, hi = float(images.min()), float(images.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ChanposError(f"{where}: image values span [{lo:.2f}, {hi:.2f}]; give images in "
                           "[0, 1] (before Normalize) or uint8, and the model's mean/std")
    return (images.float() * 255).round().to(torch.uint8)


def _batches(loader: Iterable, where: str) -> tuple[Tensor, Tensor]:
    xs, ys = [], []
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ChanposError(f"{where}: every batch must be (images, labels)")
        xs.append(_uint8(torch.as_tensor(batch[0]), where))
        ys.append(torch.as_tensor(batch[1]).long())
    if not xs:
        raise ChanposError(f"{where}: the loader gave no batches")
    return torch.cat(xs), torch.cat(ys)


def images_of(loader: Iterable, *, mean: Sequence[float], std: Sequence[float],
              num_classes: int | None = None, name: str = IN_MEMORY):
    """A classification loader -> the `ImageSet` the audit places into its grid canvases."""
    from .data import ImageSet

    images, labels = _batches(loader, name)
    if labels.dim() != 1:
        raise ChanposError(f"{name}: labels must be (B,) class indices, got a "
                           f"{labels.dim()}-d tensor per batch")
    classes = int(num_classes or int(labels.max()) + 1)
    return ImageSet(name, images, labels, classes, tuple(map(float, mean)),
                    tuple(map(float, std)))


def masks_of(loader: Iterable, *, mean: Sequence[float], std: Sequence[float],
             class_names: Sequence[str], ignore_index: int = 255, name: str = IN_MEMORY):
    """A segmentation loader -> the `SegmentationSet` the attack ranks and evaluates on."""
    from .data.segmentation_set import SegmentationSet

    images, labels = _batches(loader, name)
    if labels.dim() != 3 or labels.shape[-2:] != images.shape[-2:]:
        raise ChanposError(f"{name}: labels must be (B, H, W) class maps the size of the "
                           f"images, got {tuple(labels.shape)} for {tuple(images.shape)}")
    seen = labels[labels != ignore_index]
    if seen.numel() and int(seen.max()) >= len(class_names):
        raise ChanposError(f"{name}: a label {int(seen.max())} but only {len(class_names)} "
                           "class_names")
    n = len(images)
    return SegmentationSet(name, images, labels.to(torch.uint8 if ignore_index < 256 else
                                                    torch.long),
                           tuple(f"{name}_{i}" for i in range(n)), tuple(class_names),
                           _palette(len(class_names)), tuple(map(float, mean)),
                           tuple(map(float, std)), ignore_index=ignore_index)


def _palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """n distinct colours (evenly spaced hues) for the example plots' class maps."""
    import colorsys

    return tuple(tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(n, 1), 0.8, 0.9))
                 for i in range(n))


def _label(model: nn.Module, name: str | None) -> str:
    return name or f"{type(model).__name__} (in memory)"


def _finish(experiment: Any, cfg: Any, inputs: Any, out: str | Path, log: Any) -> RunResult:
    from .runs.lifecycle import execute, new_command, read_results

    new_command()
    path, report, _ = execute(experiment, cfg, Path(out), prepared=inputs,
                              log=log or (lambda m: None))
    results = read_results(path)  # what the command writes: results.json, read back
    return RunResult(path, tuple(Verdict.from_dict(v) for v in results.get("verdicts", [])),
                     results, report.render())


def audit(model: nn.Module, train: Iterable, test: Iterable, *, mean: Sequence[float],
          std: Sequence[float], layer: str | None = None, stages: Sequence[str] | None = None,
          profile: str = "quick", out: str | Path = "runs", name: str | None = None,
          log: Any = None, **settings: Any) -> RunResult:
    """`chanpos audit` of `model` on the caller's images: probes on `train`'s tiles placed in
    grid canvases, tested on `test`'s; readouts and controls as the command's. `settings`:
    any audit setting by its field name (e.g. grid_size=3, replicates=5)."""
    from .experiments.audit.config import audit_config
    from .experiments.audit.experiment import EXPERIMENT
    from .experiments.audit.prepare import AuditInputs, check_counts, check_inputs

    given = {**settings, "layer": layer, "stages": tuple(stages) if stages else None,
             "mean": tuple(mean), "std": tuple(std)}
    cfg = audit_config(profile, {**given, "model": "classifier", "checkpoint": None})
    label = _label(model, name)
    cfg = replace(cfg, model=label, source=IN_MEMORY)
    train_set = images_of(train, mean=mean, std=std, name="train")
    test_set = images_of(test, mean=mean, std=std, num_classes=train_set.num_classes,
                         name="test")
    check_counts(cfg, train_set, test_set)
    inputs = AuditInputs(train_set, train_set, test_set, model.eval(), None,
                         f"{label}, given to chanpos.api.audit", label,
                         normalisation=f"mean {tuple(mean)}, std {tuple(std)} (given)")
    return _finish(EXPERIMENT, cfg, check_inputs(cfg, inputs, model), out, log)


def attack(model: nn.Module, evaluation: Iterable, held_out: Iterable, *,
           mean: Sequence[float], std: Sequence[float], class_names: Sequence[str],
           layer: str | None = None, ignore_index: int = 255, profile: str = "quick",
           out: str | Path = "runs", name: str | None = None, log: Any = None,
           **settings: Any) -> RunResult:
    """`chanpos attack` of a trained segmentation `model`: channels of `layer` (default: the
    head's input, `backbone`; a real network's own layer) ranked and zeroed on `evaluation`,
    the importance control measured on `held_out` (disjoint images). The model is a
    torchvision-style segmentation model (`backbone`, `classifier`, {"out": logits}) or has
    `split_at(layer)` (`models.real.DenseNetwork`, `load_real_model`). `settings`: any attack
    setting by its field name (e.g. ns=(0, 8, 16), random_draws=20)."""
    from .experiments.attack.config import attack_config
    from .experiments.attack.experiment import EXPERIMENT
    from .experiments.attack.prepare import given_model_inputs
    from .models import ModelSpec

    over: Mapping[str, Any] = {"rank_where": None, **settings, "pretrain": "none"}
    cfg = attack_config(profile, over)
    label = _label(model, name)
    info = getattr(model, "info", None)
    layer = layer or getattr(info, "layer", None) or "backbone"
    cfg = replace(cfg, model=label, checkpoint=f"{label}, given to chanpos.api.attack",
                  source=IN_MEMORY, layer=layer)
    ev = masks_of(evaluation, mean=mean, std=std, class_names=class_names,
                  ignore_index=ignore_index, name="evaluation")
    held = masks_of(held_out, mean=mean, std=std, class_names=class_names,
                    ignore_index=ignore_index, name="held_out")
    spec = ModelSpec(label, {"num_classes": len(class_names)}).with_meta(
        source=IN_MEMORY, image_size=tuple(ev.images.shape[-2:]), mean=tuple(mean),
        std=tuple(std), class_names=tuple(class_names))
    inputs = given_model_inputs(cfg, model, spec, ev, held, layer)
    return _finish(EXPERIMENT, cfg, inputs, out, log)
