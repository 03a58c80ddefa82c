"""`chanpos audit`'s settings: which model, which images, how the probes and readouts run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import ChanposError
from ...names import BUILT_IN_SOURCES, POSITION_MAPS
from ..checks import MAX_SEED, check_batches, check_data_root, check_distinct, check_file
from ..run_settings import RunSettings, finish_run_settings
from ..settings import resolve, setting
from ..stopping import StoppingSettings

__all__ = ["AuditConfig", "audit_config"]


def _classification_sources() -> list[str]:
    from ...data import source_names

    return source_names("classification")


@dataclass(frozen=True, kw_only=True)
class AuditConfig(StoppingSettings, RunSettings):
    """Everything an audit needs: the model (given or trained here), the images, the probes."""

    model: str = setting(
        help="The audited classification CNN: a chanpos model (classifier, gapnet, permutenet) "
        "or a torchvision.models name (e.g. resnet18, vgg16) with --checkpoint.")
    checkpoint: str | None = setting(
        None, help="Its weights: a chanpos model.pt or a torchvision state dict (weights_only). "
        "Without it a chanpos model is first trained here on --source to its validation "
        "plateau.", metavar="FILE")
    width: int = setting(16, help="Width of a chanpos model built here (8 x width channels at "
                         "its last stage).", minimum=1)
    source: str = setting(help=f"Images: {', '.join(BUILT_IN_SOURCES['classification'])}.",
                          choices=_classification_sources, what="source")
    layer: str | None = setting(
        None, help="The layer whose globally pooled output is probed (default: backbone, else "
        "layer4).")
    stages: tuple[str, ...] | None = setting(
        None, help="Layers read by the position readout, in order (default: every layer1 .. "
        "layer4 the model has).", none_word="auto", metavar="LIST|auto")
    grid_size: int = setting(help="k: tiles are placed in one cell of a k x k zero canvas.",
                             minimum=2)
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

    def trains_model(self) -> bool:
        """True when no checkpoint is given: a chanpos model is trained here first."""
        return self.checkpoint is None


def audit_config(base: str | Mapping[str, Any] = "quick",
                 overrides: Mapping[str, Any] | None = None) -> AuditConfig:
    """A profile name (or saved settings) + command-line values -> the config."""
    cfg = resolve(AuditConfig, "audit", base, overrides)
    check_distinct(cfg, "maps")
    if cfg.stages is not None:
        check_distinct(cfg, "stages")
    check_data_root(cfg.data_root, download=cfg.download)
    check_file("--checkpoint", cfg.checkpoint, "checkpoint file")
    if cfg.trains_model():
        from ...models import list_models

        if cfg.model not in ("classifier", "gapnet", "permutenet") or cfg.model not in \
                list_models():
            raise ChanposError(f"--model {cfg.model} without --checkpoint: chanpos trains only "
                               "its own classifiers here (classifier, gapnet, permutenet); give "
                               "the trained weights with --checkpoint")
        check_batches(cfg.train_samples or 2, cfg.batch_size, what="training",
                      samples_flag="--train-samples")
    return finish_run_settings(cfg, 1)
