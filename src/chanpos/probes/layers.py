"""Which layers of any CNN to probe, found by running it, not guessed by name.

`trace_layers` records every module's output shape on a probe input, in the order the forward
pass calls them. From that trace, `default_layer` is the last feature map before global
pooling (a `backbone` child wins where a model has one, the chanpos and torchvision
segmentation convention), and `default_stages` the outputs where the spatial size halves
(the last block of each resolution level, as a ResNet's layer1 .. layer4).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ChanposError

__all__ = ["LayerOutput", "trace_layers", "default_layer", "imported_layer", "default_stages",
           "total_stride", "horizontal_stride"]

_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d)


@dataclass(frozen=True)
class LayerOutput:
    """One module's output on the probe input: its name, type, shape (None if not a tensor)
    and whether it is a child of the model itself (depth 1) or deeper."""

    name: str
    kind: str
    shape: tuple[int, ...] | None
    depth: int

    @property
    def is_map(self) -> bool:
        """A (B, C, H, W) feature map."""
        return self.shape is not None and len(self.shape) == 4


def _shape(out: object) -> tuple[int, ...] | None:
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, dict) and isinstance(out.get("out"), Tensor):
        return tuple(out["out"].shape)  # torchvision's IntermediateLayerGetter
    return None


@torch.no_grad()
def trace_layers(model: nn.Module, x: Tensor) -> list[LayerOutput]:
    """Every named module's output on `x`, in call order (a module called twice: once)."""
    seen: dict[str, LayerOutput] = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(_m: nn.Module, _inp: object, out: object, name: str = name,
                 kind: str = type(module).__name__) -> None:
            if name not in seen:
                seen[name] = LayerOutput(name, kind, _shape(out), name.count(".") + 1)

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return list(seen.values())


def default_layer(model: nn.Module, x: Tensor) -> str:
    """The probed layer: `backbone` if the model has one, else the last top-level module whose
    output is a feature map and that is not itself a pooling step (what global pooling
    pools: a ResNet's layer4, the `features` of VGG, MobileNet, EfficientNet, ConvNeXt).
    An imported network (`models.real`: a `net` graph and what chanpos knows of it, `info`)
    gets its known layer, else `imported_layer`."""
    info = getattr(model, "info", None)
    if info is not None and hasattr(model, "net"):
        return getattr(info, "layer", None) or imported_layer(model, x)
    names = dict(model.named_children())
    if "backbone" in names:
        return "backbone"
    trace = trace_layers(model, x)
    modules = dict(model.named_modules())
    maps = [t for t in trace if t.depth == 1 and t.is_map
            and not isinstance(modules[t.name], _POOLS)]
    if not maps:
        maps = [t for t in trace if t.is_map]
    if not maps:
        raise ChanposError(f"{type(model).__name__} gives no (B, C, H, W) feature map on a "
                           f"{tuple(x.shape)} input; name the probed layer with --layer")
    return maps[-1].name


def imported_layer(model: nn.Module, x: Tensor) -> str:
    """The probed layer of an imported graph, whose layer names say nothing: for a dense
    network (a (B, K, H, W) output) the last feature map at its deepest stride before the
    first upsampling (the backbone's end); for a classifier its last feature map larger than
    1x1 (what the final global pooling pools; squeeze-excitation blocks pool inside, so a
    pooling step does not mark the end)."""
    trace = [t for t in trace_layers(model, x) if t.is_map and t.depth > 1]
    if not trace:
        raise ChanposError(f"{type(model).__name__} gives no (B, C, H, W) feature map on a "
                           f"{tuple(x.shape)} input; name the layer with --layer")
    with torch.no_grad():
        out = model(x)
    out = out.get("out") if isinstance(out, dict) else out
    if isinstance(out, Tensor) and out.dim() == 4:
        smallest, best = None, trace[0]
        for t in trace:
            h = t.shape[-2] * t.shape[-1]
            if smallest is not None and h > smallest and t.shape[-2] > 1:
                break  # the first upsampling: the decoder starts
            if h > 1 and (smallest is None or h <= smallest):
                smallest, best = h, t
        return best.name
    larger = [t for t in trace if t.shape[-2] * t.shape[-1] > 1]
    return (larger or trace)[-1].name


def _levels(outputs: list[LayerOutput]) -> list[LayerOutput]:
    """The last output of each run of equal spatial size (one per resolution level)."""
    levels: list[LayerOutput] = []
    for t in outputs:
        if levels and levels[-1].shape[-2:] == t.shape[-2:]:
            levels[-1] = t
        else:
            levels.append(t)
    return levels


def default_stages(model: nn.Module, x: Tensor, layer: str, levels: int = 4
                   ) -> tuple[str, ...]:
    """The readout's stages: the last feature map of each spatial resolution, the deepest
    `levels` of them, in order. They come from the children of the probed `layer` when it is
    a trunk that itself changes resolution (a chanpos `backbone`, the `features` of VGG or
    MobileNet), else from the model's own children up to and including `layer` (a ResNet's
    layer1 .. layer4)."""
    trace = trace_layers(model, x)
    modules = dict(model.named_modules())
    maps = [t for t in trace if t.is_map and not isinstance(modules[t.name], _POOLS)]
    if getattr(model, "info", None) is not None and hasattr(model, "net"):
        # an imported graph: squeeze-excitation pools to 1x1 inside every block; those
        # vectors are not resolution levels
        maps = [t for t in maps if t.shape[-2] * t.shape[-1] > 1 or t.name == layer]
    depth = layer.count(".") + 1
    inner = [t for t in maps if t.name.startswith(layer + ".") and t.name.count(".") == depth]
    found = _levels(inner)
    if len(found) < 2:
        outer = [t for t in maps if t.name.count(".") == layer.count(".")]
        end = next((i for i, t in enumerate(outer) if t.name == layer), len(outer) - 1)
        found = _levels(outer[:end + 1])
    if not found:
        raise ChanposError(f"{type(model).__name__}: no stages found at `{layer}`; name them "
                           "with --stages")
    return tuple(t.name for t in found[-levels:])


def total_stride(model: nn.Module, layer: str, x: Tensor) -> int | None:
    """How many input pixels one position of `layer`'s map spans, measured (None when the
    input side is not a whole multiple of the map's)."""
    out = next((t for t in trace_layers(model, x) if t.name == layer), None)
    if out is None or not out.is_map:
        return None
    h, w = x.shape[-2:]
    oh, ow = out.shape[-2:]
    if h % oh or w % ow or h // oh != w // ow:
        return None
    return h // oh


def horizontal_stride(model: nn.Module, layer: str, x: Tensor) -> int | None:
    """How many input columns one column of `layer`'s map spans, measured (None when the
    input width is not a whole multiple of the map's): the stride that matters for cells in
    one row (a text-line classifier's strides differ between the axes)."""
    out = next((t for t in trace_layers(model, x) if t.name == layer), None)
    if out is None or not out.is_map:
        return None
    w, ow = x.shape[-1], out.shape[-1]
    return None if w % ow else w // ow
