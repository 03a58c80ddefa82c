"""Attacking a real pretrained network as it is (`--model ppocr-det` or `onnx:PATH`): the
network, its attacked layer, and one fold of images per seed.

Replicates: the network is one, so a verdict about it is over independent folds of images
(fold i ranks on its own ranking images and is evaluated on its own evaluation images, random
draws averaged within it). Rendered text (`--source text`) draws every fold's images afresh
from the fold's seed: words anywhere for ranking, evaluation and the importance control, and
words in the left half only for the signed (region) ranking. A real folder (`icdar2015`) is
shuffled once and cut into as many disjoint folds as there are seeds, each cut into ranking
images (a third) and evaluation images (the rest).
"""

from __future__ import annotations

import random

import torch

from ...data.text import TextSet, read_icdar2015, render_text
from ...errors import ChanposError
from ...models import ModelMeta, ModelSpec
from ...probes.channels import resolve_layer
from ...probes.layers import default_layer, trace_layers
from ...runs.validate import require_at_most
from .config import AttackConfig
from .prepare import AttackInputs, check_ns, images_where

__all__ = ["prepare_network", "DEFAULT_COUNTS"]

# images per fold when the profile leaves them open: evaluation, ranking, importance control
DEFAULT_COUNTS = {"eval": 48, "rank": 32, "importance": 8}


def _channels(model: torch.nn.Module, layer: str, size: tuple[int, int]) -> int:
    resolve_layer(model, layer)  # an unknown name lists the valid ones
    out = next((t for t in trace_layers(model, torch.zeros(1, 3, *size)) if t.name == layer),
               None)
    if out is None or not out.is_map:
        raise ChanposError(f"layer {layer!r} gives no (B, C, H, W) feature map on a "
                           f"{size[0]}x{size[1]} input; list the layers with chanpos layers")
    return int(out.shape[1])


def _fold(eval_set: TextSet, rank_set: TextSet, signed: TextSet,
          importance: TextSet, base: dict) -> AttackInputs:
    return AttackInputs(**base, train_set=None, val_set=importance, eval_set=eval_set,
                        rank_index=list(range(len(rank_set))),
                        signed_index=list(range(len(signed))), importance_set=importance,
                        rank_set=rank_set, signed_set=signed)


def _rendered(cfg: AttackConfig, seed: int, size: tuple[int, int], stats: dict, base: dict
              ) -> AttackInputs:
    n_eval = cfg.eval_samples or DEFAULT_COUNTS["eval"]
    n_rank = cfg.rank_samples or DEFAULT_COUNTS["rank"]
    n_imp = cfg.importance_samples or DEFAULT_COUNTS["importance"]
    # four disjoint draws per fold: seeds 10 s + 1 .. 10 s + 4 never meet another fold's
    return _fold(render_text(n_eval, seed=10 * seed + 1, size=size, **stats),
                 render_text(n_rank, seed=10 * seed + 2, size=size, **stats),
                 render_text(n_rank, seed=10 * seed + 3, size=size, half="left", **stats),
                 render_text(n_imp, seed=10 * seed + 4, size=size, **stats), base)


def _folder_folds(cfg: AttackConfig, size: tuple[int, int], stats: dict, base: dict
                  ) -> dict[int, AttackInputs]:
    data = read_icdar2015(cfg.data_root, size=size, **stats)
    seeds = cfg.model_seeds()
    order = list(range(len(data)))
    random.Random(seeds[0]).shuffle(order)
    per = len(order) // len(seeds)
    if per < 3:
        raise ChanposError(f"--data-root holds {len(data)} images: too few for "
                           f"{len(seeds)} folds of at least 3 (use fewer --seeds)")
    folds = {}
    for k, seed in enumerate(seeds):
        chunk = order[k * per:(k + 1) * per]
        cut = max(1, len(chunk) // 3)
        rank = data.select(chunk[:cut])
        evaluation = data.select(chunk[cut:])
        if cfg.eval_samples is not None:
            require_at_most(cfg.eval_samples, len(evaluation), flag="--eval-samples",
                            what="evaluation images of a fold")
            evaluation = evaluation.subset(cfg.eval_samples)
        signed = rank.select(images_where(rank, cfg.rank_where)) if cfg.rank_where else rank
        n_imp = min(len(rank), cfg.importance_samples or DEFAULT_COUNTS["importance"])
        folds[seed] = _fold(evaluation, rank, signed, rank.subset(n_imp), base)
    return folds


def prepare_network(cfg: AttackConfig) -> AttackInputs:
    """The network (converted and checked), its attacked layer, and every fold's images."""
    from ...models.real import load_real_model

    model, info = load_real_model(cfg.model)
    if info.task != "dense":
        raise ChanposError(f"--model {cfg.model} is a classifier (a {info.task} output); the "
                           "attack needs a dense network; audit it with chanpos audit")
    if model.outputs not in (1, 2):
        raise ChanposError(f"--model {cfg.model} has {model.outputs} output channels; the "
                           "attack on text needs a one-channel text probability map or two "
                           "classes (background, text)")
    size = cfg.image_size or info.input_size
    if size[0] % 32 or size[1] % 32:
        raise ChanposError(f"--image-size {size[0]},{size[1]}: a detector's input sides must "
                           "be multiples of 32")
    layer = cfg.layer or default_layer(model, torch.zeros(1, 3, *size))
    channels = check_ns(cfg, _channels(model, layer, size))
    stats = {"mean": info.mean, "std": info.std}
    spec = ModelSpec(cfg.model, {}, ModelMeta(source=cfg.source, image_size=tuple(size),
                                              mean=info.mean, std=info.std,
                                              class_names=info.class_names))
    base = {"spec": spec, "checkpoint_model": model, "pretrain_sets": None,
            "num_channels": channels, "num_classes": 2, "layer": layer, "network": info,
            "detection": model.outputs == 1}
    if cfg.source == "text":
        folds = {s: _rendered(cfg, s, size, stats, base) for s in cfg.model_seeds()}
    else:
        folds = _folder_folds(cfg, size, stats, base)
    first = folds[cfg.model_seeds()[0]]
    return AttackInputs(**{**first.__dict__, "folds": folds})
