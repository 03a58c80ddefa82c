"""Position-encoding channels: flip-difference ranking and channel ablation (Islam et al.,
ICCV 2021, Figures 4-6).

Works on any `nn.Module`: the probed layer is a module name (`"backbone.layer4"`), a module,
or a callable `features(x) -> (B, C, H, W)`.

- `rank_position_channels`: for each image x, d = GAP(f(x)) - GAP(f(flip x)) at the layer,
  from one forward of the batch [x, flip(x)]. `absolute` ranks channels by mean |d|
  (Figure 4's "overall position" channels), `signed` by mean d: the most positive channels
  respond to the original images' layout (left-specific when the ranking images carry
  their distinctive content on the left, as the authors' 42-image subset does; Figure 6),
  the most negative to the mirrored layout (right-specific). Vertical flips give top/bottom.
Ablation (`ablate_channels`, `attack_confusions`) lives in `.ablation`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ChanposError
from ..names import FLIPS

__all__ = [
    "ChannelRanking",
    "resolve_layer",
    "layer_names",
    "rank_position_channels",
    "check_feature_layer",
]

Layer = str | nn.Module | Callable[[Tensor], Tensor]


class _StopForward(Exception):
    """Raised by a capture hook once the probed layer ran: the rest of the model is skipped."""


def layer_names(model: nn.Module, max_depth: int | None = None) -> list[str]:
    """Dotted names of `model`'s submodules (up to `max_depth` dots + 1 parts if given)."""
    names = [n for n, _ in model.named_modules() if n]
    if max_depth is not None:
        names = [n for n in names if n.count(".") < max_depth]
    return names


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """The submodule named `layer` (or `layer` itself); unknown names list the valid ones."""
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ChanposError("the given layer module is not part of the model")
        return layer
    modules = dict(model.named_modules())
    if layer in modules and layer != "":
        return modules[layer]
    shallow = layer_names(model, max_depth=2)
    more = len(modules) - 1 - len(shallow)
    tail = f" (and {more} deeper dotted names below them)" if more > 0 else ""
    raise ChanposError(
        f"unknown layer {layer!r} in {type(model).__name__}; valid layers: "
        f"{', '.join(shallow)}{tail}"
    )


def _feature_tensor(out: Any, key: str = "out") -> Tensor:
    """The feature map in a layer's output: the tensor, or `out[key]` for dict outputs."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, Mapping) and key in out:
        return out[key]
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        return out[0]
    raise ChanposError(f"cannot find a feature map in a layer output of type {type(out).__name__}")


@contextmanager
def _capture(model: nn.Module, layer: str | nn.Module) -> Iterator[dict[str, Tensor]]:
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
        store["features"] = _feature_tensor(out)
        raise _StopForward

    handle = resolve_layer(model, layer).register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def _features_fn(model: nn.Module, layer: Layer) -> Callable[[Tensor], Tensor]:
    """x -> the layer's feature map (B, C, H, W), running the model only up to the layer."""
    if callable(layer) and not isinstance(layer, (str, nn.Module)):
        return layer
    resolve_layer(model, layer)  # validate the name before any work

    def run(x: Tensor) -> Tensor:
        with _capture(model, layer) as store:
            try:
                model(x)
            except _StopForward:
                pass
        if "features" not in store:
            raise ChanposError(f"layer {layer!r} did not run in the model's forward pass")
        return store["features"]

    return run


def _features_many_fn(model: nn.Module, layers: Sequence[str]
                      ) -> Callable[[Tensor], list[Tensor]]:
    """x -> the feature maps of every layer of `layers`, from one forward pass that stops
    once the last of them ran (one pass instead of one per layer)."""
    modules = [resolve_layer(model, layer) for layer in layers]

    def run(x: Tensor) -> list[Tensor]:
        store: dict[int, Tensor] = {}

        def hook_for(i: int):
            def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
                store.setdefault(i, _feature_tensor(out))
                if len(store) == len(modules):
                    raise _StopForward
            return hook

        handles = [m.register_forward_hook(hook_for(i)) for i, m in enumerate(modules)]
        try:
            model(x)
        except _StopForward:
            pass
        finally:
            for h in handles:
                h.remove()
        missing = [layers[i] for i in range(len(modules)) if i not in store]
        if missing:
            raise ChanposError(f"layer {missing[0]!r} did not run in the model's forward pass")
        return [store[i] for i in range(len(modules))]

    return run


@torch.no_grad()
def check_feature_layer(model: nn.Module, layer: str | nn.Module, x: Tensor
                        ) -> tuple[int, ...]:
    """The shape of `layer`'s output on `x`, or a one-line ChanposError unless it is a
    (B, C, H, W) feature map (what flip ranking and channel ablation pool over)."""
    was_training = model.training
    model.eval()
    try:
        out = _features_fn(model, layer)(x)
    finally:
        model.train(was_training)
    if out.dim() != 4:
        raise ChanposError(
            f"layer {layer!r} gives {tuple(out.shape)} outputs, not (B, C, H, W) feature maps; "
            "name a convolutional layer (e.g. layer4 or backbone)")
    return tuple(out.shape)


def _is_channels_last(model: nn.Module) -> bool:
    """True when the model's 4-d weights are stored channels_last (so x should be too)."""
    for p in model.parameters():
        if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False


def _inputs(batch: Any) -> Tensor:
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, Mapping):
        return batch["image"]
    return batch[0]


@dataclass(frozen=True)
class ChannelRanking:
    """A flip-difference ranking of a layer's C channels.

    `scores` (C,): mean |d| (absolute) or mean d (signed), d = GAP(f(x)) - GAP(f(flip x));
    `order` (C,): channels by descending score. For signed rankings `sides` maps the flip's
    two sides to their orders ("left": descending mean d, "right": ascending; "top" /
    "bottom" for vertical flips). `magnitude` (C,) is the mean pooled activation of the
    original images (the magnitude control's score).
    """

    scores: Tensor
    order: Tensor
    mode: str
    flip: str
    num_images: int
    magnitude: Tensor
    sides: dict[str, Tensor]

    @property
    def num_channels(self) -> int:
        """C, the number of channels ranked."""
        return int(self.scores.numel())

    def top(self, n: int, side: str | None = None) -> Tensor:
        """The first `n` channels of the order (or of a side's order for signed rankings)."""
        order = self.order if side is None else self.sides[side]
        if n > order.numel():
            raise ChanposError(f"N = {n} is larger than the layer's {order.numel()} channels")
        return order[:n]


def _flip_sums(features: Callable[[Tensor], Tensor], loader: Iterable[Any], dim: int,
               device: Any, max_batches: int | None, inputs: Callable[[Any], Tensor],
               channels_last: bool) -> tuple[int, Tensor | None, Tensor | None, Tensor | None]:
    """(images, sum |d|, sum d, sum of pooled activations) over the batches, float64."""
    abs_sum = signed_sum = mag_sum = None
    count = 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        x = inputs(batch)
        if device is not None:
            x = x.to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        b = x.shape[0]
        z = features(torch.cat([x, x.flip(dim)])).float().mean(dim=(-2, -1))  # (2B, C)
        d = z[:b] - z[b:]
        if abs_sum is None:
            abs_sum = torch.zeros(z.shape[1], dtype=torch.float64, device=z.device)
            signed_sum, mag_sum = abs_sum.clone(), abs_sum.clone()
        abs_sum += d.abs().sum(0).double()
        signed_sum += d.sum(0).double()
        mag_sum += z[:b].sum(0).double()
        count += b
    return count, abs_sum, signed_sum, mag_sum


@torch.no_grad()
def rank_position_channels(
    model: nn.Module,
    layer: Layer,
    loader: Iterable[Any],
    mode: str = "absolute",
    *,
    flip: str = "horizontal",
    device: torch.device | str | None = None,
    max_batches: int | None = None,
    inputs: Callable[[Any], Tensor] = _inputs,
    channels_last: bool = False,
) -> ChannelRanking:
    """Rank `layer`'s channels by how much their pooled response changes under a flip.

    One forward of [x, flip(x)] per batch (eval mode; the model's mode is restored).
    `loader` yields batches whose images `inputs(batch)` gives as (B, 3, H, W), already
    normalised. `channels_last` runs the forwards in that memory format (1.5x faster on
    CPUs for ResNets; the model's own format is restored). Returns a `ChannelRanking` (see
    there for `absolute` vs `signed`).
    """
    if mode not in ("absolute", "signed"):
        raise ChanposError(f"unknown ranking mode {mode!r}; use absolute or signed")
    if flip not in FLIPS:
        raise ChanposError(f"unknown flip {flip!r}; use {' or '.join(FLIPS)}")
    dim, side_names = FLIPS[flip]
    features = _features_fn(model, layer)
    was_training = model.training
    model.eval()
    convert = channels_last and not _is_channels_last(model)
    if convert:
        model.to(memory_format=torch.channels_last)
    try:
        count, abs_sum, signed_sum, mag_sum = _flip_sums(features, loader, dim, device,
                                                         max_batches, inputs, channels_last)
    finally:
        model.train(was_training)
        if convert:
            model.to(memory_format=torch.contiguous_format)
    if count == 0 or abs_sum is None:
        raise ChanposError("no images to rank channels on (the loader is empty)")
    abs_mean, signed_mean, magnitude = (s.cpu() / count for s in (abs_sum, signed_sum, mag_sum))
    scores = abs_mean if mode == "absolute" else signed_mean
    order = torch.argsort(scores, descending=True, stable=True)
    sides: dict[str, Tensor] = {}
    if mode == "signed":
        sides = {side_names[0]: order,
                 side_names[1]: torch.argsort(signed_mean, descending=False, stable=True)}
    return ChannelRanking(scores.float(), order, mode, flip, count, magnitude.float(), sides)



def top_overlap(a: ChannelRanking, b: ChannelRanking, k: int) -> int:
    """How many of the top `k` channels two rankings share (two halves of the same images:
    how stable a ranking is; `k` of `k` = the same set)."""
    k = min(k, a.num_channels, b.num_channels)
    return len(set(a.order[:k].tolist()) & set(b.order[:k].tolist()))
