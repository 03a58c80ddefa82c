"""`chanpos audit`'s settings: which model, which images, how the probes and readouts run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ChanposError
from ...names import (
    BUILT_IN_SOURCES,
    POSITION_MAPS,
    is_network,
    network_subject,
)
from ...runs.compose import resolve
from ...runs.plateau import PlateauSettings
from ...runs.settings import setting
from ...runs.shared import PreprocessingSettings, RunSettings, finish_run_settings
from ...runs.validate import (
    MAX_SEED,
    require_batches,
    require_data_root,
    require_distinct,
    require_file,
)

__all__ = ["AuditConfig", "audit_config", "audit_real_config"]


def _classification_sources() -> list[str]:
    from ...data import source_names

    return source_names("classification")


@dataclass(frozen=True, kw_only=True)
class AuditConfig(PreprocessingSettings, PlateauSettings, RunSettings):
    """Everything an audit needs: the model (given or trained here), the images, the probes."""

    model: str | None = setting(
        help="The audited classification CNN: a chanpos model (classifier, gapnet, permutenet) "
        "a torchvision.models name (e.g. resnet18, vgg16) or timm:NAME (a timm architecture) "
        "with --checkpoint; ppocr-cls (a real network); file = the "
        "architecture a chanpos --checkpoint names.", none_word="file", metavar="NAME")
    checkpoint: str | None = setting(
        None, help="Its weights: a chanpos model.pt or a torchvision state dict (weights_only). "
        "Without it a chanpos model is first trained here on --source to its validation "
        "plateau.", metavar="FILE")
    control_checkpoint: str | None = setting(
        None, help="The positive control of order-free semantics: a chanpos PermuteNet model.pt "
        "(trained with the channels shuffled at every pass, e.g. one of Table 1's object "
        "task), probed like the audited model; without it the class-under-shuffling "
        "measurement has nothing to be compared with.", metavar="FILE")
    width: int = setting(16, help="Width of a chanpos model built here (8 x width channels at "
                         "its last stage).", minimum=1)
    source: str = setting(help=f"Images: {', '.join(BUILT_IN_SOURCES['classification'])}.",
                          choices=_classification_sources, what="source")
    classes: int | None = setting(
        None, help="Images of the source's first N classes only (all = every class): the class "
        "probes then ask an N-way question, e.g. the classes a --control-checkpoint was "
        "trained on.", minimum=2, none_word="all", metavar="N|all")
    layer: str | None = setting(
        None, help="The layer whose globally pooled output is probed (default: the model's "
        "backbone, else its last feature map before global pooling, found by running it; "
        "`chanpos layers` lists them).")
    stages: tuple[str, ...] | None = setting(
        None, help="Layers read by the position readout, in order (default: the last feature "
        "map of each of the four deepest spatial resolutions, found by running the model).",
        none_word="auto", metavar="LIST|auto")
    grid_size: int = setting(help="k: tiles are placed in one cell of a k x k zero canvas "
                             "(2 <= k <= 64: canvases of at most 2048 px).", minimum=2,
                             maximum=64)
    grid_rows: int | None = setting(
        None, help="Rows of the canvas grid (default: k, a k x k grid; 1: a row of k cells, "
        "the input format of a text-line classifier such as ppocr-cls).", minimum=1,
        maximum=64, none_word="k", metavar="N|k")
    replicates: int = setting(
        help="Independent replicates of the pooled-vector probes: each draws its own training "
        "and test canvases (tiles, cells) and fits its own probes.", minimum=2)
    probe_samples: int = setting(help="Training canvases of each probe.", minimum=2)
    probe_test_samples: int = setting(help="Test canvases of each probe.", minimum=1)
    image_size: int = setting(help="Side (px) of the readout's input images (the source's "
                              "images resized).", minimum=16)
    readout_samples: int = setting(help="Images the position readouts are trained on.",
                                   minimum=2)
    readout_test_samples: int = setting(help="Images the readouts are scored on.", minimum=1)
    readout_size: int = setting(28, help="Side every stage's features are resized to before "
                                "the readout (PosENet: 28).", minimum=4)
    readout_epochs: int = setting(help="Readout training epochs.", minimum=1)
    readout_lr: float = setting(0.01, help="Readout learning rate (Adam).", minimum=0.0,
                                strict=True)
    maps: tuple[str, ...] = setting(POSITION_MAPS, help="Position maps the readout draws: H, V "
                                    "(gradients), G (centred Gaussian), HS, VS (stripes).",
                                    choices=POSITION_MAPS, what="position map",
                                    metavar="LIST")
    top_k: int = setting(help="Channels of the probed layer in the top-k readout (flip-ranked "
                         "vs random).", minimum=1)
    random_draws: int = setting(3, help="Random k-channel draws of the top-k comparison.",
                                minimum=1)
    train_samples: int | None = setting(None, help="Training images when the model is trained "
                                        "here (all = every one).", minimum=1,
                                        none_word="all", metavar="N|all")
    lr: float = setting(0.002, help="Learning rate when the model is trained here (Adam).",
                        minimum=0.0, strict=True)
    batch_size: int = setting(64, help="Batch size when the model is trained here.", minimum=1)
    seed: int = setting(0, help="Seed of the model trained here, the canvases and the probes "
                        "(replicate r uses seed + r).", minimum=0, maximum=MAX_SEED)

    def rows(self) -> int:
        """Rows of the canvas grid (k unless set)."""
        return self.grid_size if self.grid_rows is None else self.grid_rows

    def cells(self) -> int:
        """Cells of the canvas grid: the pooled-position probe's classes."""
        return self.rows() * self.grid_size

    def grid(self) -> str:
        """'3x3', '1x4' (rows x columns)."""
        return f"{self.rows()}x{self.grid_size}"

    def network_name(self) -> str | None:
        """A real network's short name for verdict ids, else None (`names.network_subject`)."""
        return network_subject(self.model)

    def trains_model(self) -> bool:
        """True when no checkpoint is given (and no real network, which holds its own
        weights): a chanpos model is trained here first."""
        return self.checkpoint is None and not self.is_network()

    def is_network(self) -> bool:
        """The audited model is a real pretrained network or an ONNX file (`models.real`)."""
        return is_network(self.model)


def _from_model_file(base: str | Mapping[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """A fresh run of a chanpos --checkpoint: the architecture, source and grid size its file
    names replace the profile's (the command line still wins)."""
    path = over.get("checkpoint")
    if not isinstance(base, str) or path is None:
        return over
    from pathlib import Path

    from ...models import ModelSpec, read_checkpoint

    require_file("--checkpoint", path, "checkpoint file")
    ckpt = read_checkpoint(Path(path))
    if "chanpos_model" not in ckpt:
        return over
    spec = ModelSpec.from_plain(ckpt["chanpos_model"], str(path))
    found = {"model": spec.name, "source": spec.meta.source, "grid_size": spec.meta.grid_size}
    return {**{k: v for k, v in found.items() if v is not None}, **over}


def audit_config(base: str | Mapping[str, Any] = "quick",
                 overrides: Mapping[str, Any] | None = None, *, command: str = "audit"
                 ) -> AuditConfig:
    """A profile name (or saved settings) + command-line values -> the config; with a chanpos
    model file, what it was trained on comes before the profile's values."""
    cfg = resolve(AuditConfig, command, base, _from_model_file(base, dict(overrides or {})))
    require_distinct(cfg, "maps")
    if cfg.stages is not None:
        require_distinct(cfg, "stages")
    require_data_root(cfg.data_root, download=cfg.download)
    require_file("--checkpoint", cfg.checkpoint, "checkpoint file")
    require_file("--control-checkpoint", cfg.control_checkpoint, "model file")
    cfg.require_both()
    if cfg.model is None:
        raise ChanposError("--model file needs a chanpos --checkpoint (which names its own "
                           "architecture); otherwise give the architecture's name")
    if cfg.is_network() and cfg.checkpoint is not None:
        raise ChanposError(f"--model {cfg.model} holds its own weights: drop --checkpoint")
    if cfg.trains_model():
        from ...models import list_models

        if cfg.model not in ("classifier", "gapnet", "permutenet") or cfg.model not in \
                list_models():
            raise ChanposError(f"--model {cfg.model} without --checkpoint: chanpos trains only "
                               "its own classifiers here (classifier, gapnet, permutenet); give "
                               "the trained weights with --checkpoint")
        require_batches(cfg.train_samples or 2, cfg.batch_size, what="training",
                      samples_flag="--train-samples")
    return finish_run_settings(cfg, 1)


def audit_real_config(base: str | Mapping[str, Any] = "quick",
                      overrides: Mapping[str, Any] | None = None) -> AuditConfig:
    """`chanpos audit-real`: the audit with the profiles of a real pretrained network."""
    return audit_config(base, overrides, command="audit-real")
