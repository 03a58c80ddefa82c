"""Everything the audit needs before a folder exists (images, the model or how to train it,
the layers), and the training of a chanpos model when no checkpoint is given."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ...data import ImageSet, load_source
from ...errors import ChanposError
from ...models import ModelSpec, load_any_model
from ...ops import Normalise
from ...ops.normalise import choose_normalisation
from ...runs.validate import require_at_most, require_holdout
from .config import AuditConfig

__all__ = ["AuditInputs", "prepare_audit", "check_counts", "check_inputs", "fresh_copy", "layers",
           "sample_canvases"]


@dataclass
class AuditInputs:
    """The images and the model (given, or the spec of the one trained here)."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    model: nn.Module | None
    spec: ModelSpec | None
    origin: str
    name: str
    shuffle_trained: nn.Module | None = None
    normalisation: str = "the data source's statistics"


def fresh_copy(model: nn.Module, seed: int) -> nn.Module:
    """The same architecture with freshly initialised weights (every module that can reset
    its parameters does, under `seed`)."""
    fresh = copy.deepcopy(model)
    torch.manual_seed(seed)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    return fresh


def _need(n: int, have: int, flag: str, what: str) -> None:
    if n > have:
        raise ChanposError(f"{flag} {n} asks for more {what} than the source has ({have}); "
                           f"use at most {have}")


def prepare_audit(cfg: AuditConfig) -> AuditInputs:
    """Load the images and the model, check every count against the data (one line each)."""
    train = load_source(cfg.source, split="train", data_root=cfg.data_root,
                        download=cfg.download)
    test = load_source(cfg.source, split="test", data_root=cfg.data_root)
    if cfg.classes is not None:
        if cfg.classes > train.num_classes:
            raise ChanposError(f"--classes {cfg.classes}: {cfg.source} has only "
                               f"{train.num_classes} classes; use at most {train.num_classes}")
        train, test = train.first_classes(cfg.classes), test.first_classes(cfg.classes)
    check_counts(cfg, train, test)
    mean, std, said = _normalisation(cfg, train)
    train, test = replace(train, mean=mean, std=std), replace(test, mean=mean, std=std)
    if cfg.trains_model():  # a validation split only for the model trained here
        require_holdout(cfg.val_samples, len(train), flag="--val-samples", source=cfg.source)
        rest, val = train.holdout(cfg.val_samples)
        require_at_most(cfg.train_samples, len(rest), flag="--train-samples",
                        what="training images (less --val-samples)")
        spec = ModelSpec(cfg.model, {"num_classes": train.num_classes, "width": cfg.width}
                         ).with_meta(source=cfg.source, image_size=tuple(train.images.shape[-2:]),
                                     mean=tuple(train.mean), std=tuple(train.std))
        inputs = AuditInputs(rest, val, test, None, spec, f"{cfg.model} trained here on "
                             f"{cfg.source}", cfg.model)
        shape = spec.build()
    else:
        model, origin = load_any_model(cfg.model, Path(cfg.checkpoint) if cfg.checkpoint
                                       else None, train.num_classes)
        inputs, shape = AuditInputs(train, train, test, model, None, origin, cfg.model), model
    inputs.normalisation = f"mean {mean}, std {std} ({said})"
    check_inputs(cfg, inputs, shape)
    if cfg.control_checkpoint is not None:
        from ...models import load_model_checkpoint
        from ...probes.channels import check_feature_layer

        control, _ = load_model_checkpoint(Path(cfg.control_checkpoint), expect="permutenet")
        check_feature_layer(control, "backbone", sample_canvases(test, cfg.grid_size,
                                                                 cfg.grid_rows))
        inputs.shuffle_trained = control
    return inputs


def check_counts(cfg: AuditConfig, train: ImageSet, test: ImageSet) -> None:
    """Every image count of `cfg` within what the images hold (one line each)."""
    _need(cfg.probe_samples, len(train), "--probe-samples", "training images")
    _need(cfg.readout_samples, len(train), "--readout-samples", "training images")
    _need(cfg.probe_test_samples, len(test), "--probe-test-samples", "test images")
    _need(cfg.readout_test_samples, len(test), "--readout-test-samples", "test images")


def check_inputs(cfg: AuditConfig, inputs: AuditInputs, shape: nn.Module) -> AuditInputs:
    """What must hold before any work starts: the memory the probes need, the layers exist
    and are maps on the canvases, the circular-padding twin can run (`shape`: the model, or
    an untrained one of its architecture)."""
    _require_memory(cfg, inputs.train)
    sample = sample_canvases(inputs.test, cfg.grid_size, cfg.grid_rows)
    layers(cfg, shape, sample)  # the layers exist and are maps
    _require_circular_twin(cfg, shape, sample)
    return inputs


def _require_circular_twin(cfg: AuditConfig, model: nn.Module, sample: torch.Tensor) -> None:
    """The circular-padding control must run on the probes' canvases and the readout's
    images: circular padding wraps a map at most once, so a padding wider than a deep feature
    map cannot be built."""
    from ...models import set_padding

    twin = set_padding(copy.deepcopy(model), "circular").eval()
    readout = torch.zeros(1, 3, cfg.image_size, cfg.image_size)
    for x, what, flag in ((sample, "canvases", "--grid-size"),
                          (readout, "readout images", "--image-size")):
        try:
            with torch.no_grad():
                twin(x)
        except RuntimeError:
            raise ChanposError(f"the circular-padding control of this model cannot run on "
                               f"{x.shape[-1]} px {what} (a deep layer's padding is wider than "
                               f"its feature map); use a larger {flag}") from None


def _normalisation(cfg: AuditConfig, images: ImageSet
                   ) -> tuple[tuple[float, ...], tuple[float, ...], str]:
    """The command line's, else the model's own (its file's, timm's), else the source's."""
    from ...models import model_statistics

    own = model_statistics(cfg.model, Path(cfg.checkpoint) if cfg.checkpoint else None)
    return choose_normalisation((cfg.mean, cfg.std), own, (images.mean, images.std))


def sample_canvases(images: ImageSet, k: int, rows: int | None = None) -> torch.Tensor:
    """Two normalised canvases (tiles in cell 0): what the layer checks run on."""
    from ...data import place_in_grid

    tiles = Normalise(images.mean, images.std)(images.images[:2])
    return place_in_grid(tiles, torch.zeros(2, dtype=torch.long), k, rows)


def layers(cfg: AuditConfig, model: nn.Module, sample: torch.Tensor) -> tuple[str, tuple[str, ...]]:
    """(probed layer, readout stages) of `model`, each checked to give (B, C, H, W) maps."""
    from ...probes.channels import check_feature_layer
    from ...probes.layers import default_layer, default_stages

    model.eval()
    layer = cfg.layer or default_layer(model, sample)
    stages = cfg.stages or default_stages(model, sample, layer)
    for name in (layer, *stages):
        shape = check_feature_layer(model, name, sample)
        if name == layer and cfg.top_k >= shape[1]:
            raise ChanposError(f"--top-k {cfg.top_k} is not fewer than the {shape[1]} channels "
                               f"of `{layer}`: top-k and random k would both be every channel; "
                               f"use at most {shape[1] - 1}")
    return layer, tuple(stages)


def _require_memory(cfg: AuditConfig, train: ImageSet) -> None:
    """The probes hold every canvas of a replicate at once (float32, normalised and placed):
    refuse a grid size or canvas count that cannot fit in this machine's memory."""
    from ...runs.validate import require_memory

    side = cfg.grid_size * int(train.images.shape[-1])
    tall = cfg.rows() * int(train.images.shape[-2])
    canvases = cfg.probe_samples + cfg.probe_test_samples
    need = 2 * canvases * 3 * side * tall * 4 + 3 * (cfg.readout_samples + cfg.readout_test_samples
                                                     ) * cfg.image_size ** 2 * 4
    require_memory(need, what=f"the probes' {canvases} canvases of {tall}x{side} px (grid "
                   f"{cfg.grid()})", fix="use a smaller --grid-size or fewer "
                   "--probe-samples/--probe-test-samples")
