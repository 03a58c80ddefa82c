"""`chanpos layers`: trace a model on a probe input and list its layers with their output
shapes, marking the layer chanpos probes by default and the readout stages, with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...models import load_any_model, load_model_checkpoint, read_checkpoint
from ...probes.layers import default_layer, default_stages, total_stride, trace_layers
from ...runs.folders import RunFolder
from ...runs.lifecycle import Experiment, Outcome
from ...runs.reporting import Report, heading
from .config import LayersConfig, layers_config

__all__ = ["EXPERIMENT"]

_WHY_LAYER = ("the default probed layer: the model's `backbone`, else its last top-level "
              "feature map before global pooling")
_WHY_STAGE = "a default readout stage: the last feature map of a spatial resolution"


def _prepare(cfg: LayersConfig) -> tuple[Any, str, tuple[int, int]]:
    path = Path(cfg.checkpoint) if cfg.checkpoint else None
    size = cfg.image_size
    if path is not None and "chanpos_model" in read_checkpoint(path):
        net, spec = load_model_checkpoint(path, expect=None if cfg.model is None
                                          else (cfg.model,))
        return net, spec.name, size or spec.meta.image_size or (224, 224)
    net, _ = load_any_model(cfg.model, path, cfg.num_classes)
    info = getattr(net, "info", None)  # a real network knows its input size
    return net, cfg.model, size or getattr(info, "input_size", None) or (224, 224)


def _run(cfg: LayersConfig, prepared: Any, folder: RunFolder, log) -> Outcome:
    net, name, (h, w) = prepared
    x = torch.zeros(1, 3, h, w)
    trace = trace_layers(net, x)
    layer = default_layer(net, x)
    stages = default_stages(net, x, layer)
    stride = total_stride(net, layer, x)
    info = getattr(net, "info", None)
    why = (info.layer_reason if info is not None else _WHY_LAYER)
    rows = [{"layer": t.name, "type": t.kind, "shape": list(t.shape) if t.shape else None,
             "channels": t.shape[1] if t.is_map else None,
             "default": ("layer" if t.name == layer else "stage" if t.name in stages else None)}
            for t in trace if cfg.all or t.is_map or t.depth == 1]
    lines = [heading(1, f"Layers of `{name}` on a {h}x{w} input"), "",
             f"Probed layer by default: `{layer}` ({why}); total stride "
             f"{stride if stride is not None else 'not a whole number'}. Readout stages by "
             f"default: {', '.join(f'`{s}`' for s in stages)} ({_WHY_STAGE}). Give others with "
             "--layer and --stages.", "",
             "| layer | type | output shape | channels | default |", "|---|---|---|---|---|"]
    for r in rows:
        shape = "x".join(map(str, r["shape"][1:])) if r["shape"] else "–"
        lines.append(f"| `{r['layer']}` | {r['type']} | {shape} | {r['channels'] or '–'} | "
                     f"{r['default'] or ''} |")
    results = {"experiment": "layers", "model": name, "input": [h, w], "layer": layer,
               "stages": list(stages), "total_stride": stride, "layers": rows}
    return Outcome(results, Report(lines + [""]))


EXPERIMENT = Experiment(name="layers", config=layers_config, prepare=_prepare, run=_run)
