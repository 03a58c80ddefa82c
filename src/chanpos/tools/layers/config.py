"""`chanpos layers`' settings: which model, on which input size."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...runs.compose import resolve
from ...runs.settings import setting
from ...runs.validate import require_file

__all__ = ["LayersConfig", "layers_config"]


@dataclass(frozen=True, kw_only=True)
class LayersConfig:
    """The model whose layers are listed, and the probe input."""

    model: str | None = setting(
        None, help="A chanpos model (e.g. gapnet), a torchvision.models name, timm:NAME, ppocr-det, "
        "ppocr-cls or onnx:PATH (default: the "
        "architecture a chanpos --checkpoint names).", none_word="file", metavar="NAME")
    checkpoint: str | None = setting(None, help="Its weights (a chanpos model.pt or a state "
                                     "dict; weights_only). Shapes do not depend on them.",
                                     metavar="FILE")
    image_size: tuple[int, int] | None = setting(
        None, help="The probe input H,W (default: the size a chanpos model file was trained "
        "on, else 224,224).", minimum=8, maximum=4096, none_word="model", metavar="H,W")
    num_classes: int = setting(10, help="Outputs of a model built without a checkpoint.",
                               minimum=1)
    all: bool = setting(False, help="List every module (default: only those whose output is "
                        "a feature map, and the model's own children).")


def layers_config(base: str | Mapping[str, Any] = "",
                  overrides: Mapping[str, Any] | None = None) -> LayersConfig:
    """Validated settings from command-line values."""
    values = dict(base) if isinstance(base, Mapping) else {}
    cfg = resolve(LayersConfig, "layers", values, overrides, complete=bool(values))
    require_file("--checkpoint", cfg.checkpoint, "checkpoint file")
    if cfg.model is None and cfg.checkpoint is None:
        from ...errors import ChanposError

        raise ChanposError("give --model (a chanpos, torchvision or timm:NAME model), or a chanpos "
                           "--checkpoint, which names its own architecture")
    return cfg
