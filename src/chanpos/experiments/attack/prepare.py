"""Everything the attack needs before a folder exists: data, the model's shape or the given
checkpoint, the ranking images, and every user error (Figures 4-6 of Islam et al., 2021)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ...data import load_source
from ...data.segmentation import load_segmentation_source, read_name_list, select_by_names
from ...errors import ChanposError
from ...models import ModelSpec, load_segmentation_checkpoint
from ...probes.ablation import head_channels
from ...runs.validate import require_at_most, require_batches, require_holdout
from .config import NO_PRETRAIN, AttackConfig, is_network

__all__ = ["AttackInputs", "prepare_attack", "given_model_inputs", "images_where", "check_ns"]


@dataclass
class AttackInputs:
    """What `prepare_attack` resolved: data, the given model (if any), ranking images.

    `eval_set`: the source's val split (mIoU, rankings); `train_set` and `val_set`: the
    training split and the validation split held out of it (the plateau rule), `val_set`
    also being the images the importance control is measured on (`importance_set`, disjoint
    from `eval_set`); `pretrain_sets`: (train, validation, test) of the pretraining source.
    `layer`: the attacked layer. `rank_set` / `signed_set`: ranking images of their own
    (default: the evaluation images at `rank_index` / `signed_index`). A real network
    (`network`: what chanpos knows of it) has one `AttackInputs` per seed in `folds`, each
    fold's images disjoint from the others; `detection`: its text-detection metric is scored.
    """

    spec: ModelSpec
    checkpoint_model: nn.Module | None
    train_set: Dataset | None
    val_set: Dataset
    eval_set: Dataset
    pretrain_sets: tuple[Any, Any, Any] | None
    rank_index: list[int]
    signed_index: list[int]
    num_channels: int
    num_classes: int

    importance_set: Dataset | None = None
    layer: str = "backbone"
    rank_set: Dataset | None = None
    signed_set: Dataset | None = None
    network: Any = None
    folds: dict[int, AttackInputs] | None = None
    detection: bool = False

    def fold(self, seed: int) -> AttackInputs:
        """The inputs of the replicate `seed`: its own fold of images, or these."""
        return self.folds[seed] if self.folds else self

    def __post_init__(self) -> None:
        if self.importance_set is None:  # images for the importance control: never eval images
            self.importance_set = self.val_set


def _load(cfg: AttackConfig, split: str, num_samples: int | None) -> Dataset:
    return load_segmentation_source(
        cfg.source, split=split, data_root=cfg.data_root, num_samples=num_samples,
        seed=cfg.seeds[0], image_size=cfg.image_size or (64, 128), same_texture=cfg.same_texture,
        mirror=cfg.mirror, scale=cfg.scale,
    )


def _split_train(cfg: AttackConfig) -> tuple[Dataset, Dataset]:
    """(training images, the validation split held out of them): the first `val_samples`
    images of the training split are held out, the next `train_samples` train."""
    wanted = None if cfg.train_samples is None else cfg.train_samples + cfg.val_samples
    data = _load(cfg, "train", wanted)
    require_at_most(wanted, len(data), flag="--train-samples",
                    what="training images (with the --val-samples held out of them)")
    require_holdout(cfg.val_samples, len(data), flag="--val-samples",
                  source=f"the {cfg.source} training split")
    held = list(range(cfg.val_samples))
    return data.select(list(range(cfg.val_samples, len(data)))), data.select(held)


def prepare_attack(cfg: AttackConfig) -> AttackInputs:
    """Load data and check every user input (raises ChanposError); writes nothing."""
    if is_network(cfg.model):
        from .network import prepare_network

        return prepare_network(cfg)
    val = _load(cfg, "val", cfg.eval_samples)
    require_at_most(cfg.eval_samples, len(val), flag="--eval-samples",
                    what="evaluation images")
    require_at_most(cfg.rank_samples, len(val), flag="--rank-samples", what="evaluation images")
    rank_index = list(range(min(len(val), cfg.rank_samples or len(val))))
    signed_index = rank_index
    if cfg.rank_images is not None:
        signed_index = select_by_names(tuple(val.names), read_name_list(Path(cfg.rank_images)))
    if cfg.rank_where is not None:
        signed_index = images_where(val, cfg.rank_where)
    given, train, pretrain = None, None, None
    if cfg.checkpoint is not None:
        kwargs = {k: v for k, v in cfg.model_kwargs(0).items() if k != "num_classes"}
        kwargs.pop("pretrained_backbone", None)  # the checkpoint holds every weight
        given, spec = load_segmentation_checkpoint(Path(cfg.checkpoint), model=cfg.model, **kwargs)
        if spec.kwargs.get("num_classes") not in (None, val.num_classes):
            raise ChanposError(f"{cfg.checkpoint} predicts {spec.kwargs['num_classes']} "
                               f"classes but source {cfg.source!r} has {val.num_classes}")
        shape_model = given
        held = _load(cfg, "train", cfg.val_samples)  # only held-out images are needed
    else:
        spec = ModelSpec(cfg.model, cfg.model_kwargs(val.num_classes)).with_meta(
            source=cfg.source, image_size=tuple(val[0][0].shape[-2:]), mean=tuple(val.mean),
            std=tuple(val.std), class_names=tuple(val.class_names))
        shape_model = spec.build()
        train, held = _split_train(cfg)
        require_batches(len(train), cfg.batch_size, what="training", samples_flag="--train-samples")
        if cfg.pretrain != NO_PRETRAIN:
            pre = load_source(cfg.pretrain, split="train", data_root=cfg.data_root,
                              download=cfg.download)
            require_holdout(cfg.pretrain_val_samples, len(pre), flag="--pretrain-val-samples",
                          source=cfg.pretrain)
            rest, pre_val = pre.holdout(cfg.pretrain_val_samples)
            require_at_most(cfg.pretrain_samples, len(rest), flag="--pretrain-samples",
                            what=f"{cfg.pretrain} images (less --pretrain-val-samples)")
            rest = rest.subset(cfg.pretrain_samples)
            require_batches(len(rest), 64, what="pretraining", samples_flag="--pretrain-samples")
            pretrain = (rest, pre_val, load_source(cfg.pretrain, split="test",
                                                   data_root=cfg.data_root, num_samples=500))
    channels = check_ns(cfg, head_channels(shape_model))
    _check_circular(cfg, shape_model, tuple(val[0][0].shape[-2:]))
    require_at_most(cfg.importance_samples, len(held), flag="--importance-samples",
                    what="held-out images (--val-samples)")
    n_imp = min(len(held), cfg.importance_samples or len(held))
    return AttackInputs(spec=spec, checkpoint_model=given, train_set=train, val_set=held,
                        eval_set=val, pretrain_sets=pretrain, rank_index=rank_index,
                        signed_index=signed_index, num_channels=channels,
                        num_classes=val.num_classes,
                        importance_set=held.select(list(range(n_imp))))


def given_model_inputs(cfg: AttackConfig, model: nn.Module, spec: ModelSpec, eval_set: Dataset,
                       held: Dataset, layer: str) -> AttackInputs:
    """The inputs of a model given in memory (`chanpos.api.attack`) on segmentation sets the
    caller made: evaluation images (curves, rankings) and held-out ones (the importance
    control), checked as the command checks its own (one line each)."""
    from ...probes.ablation import segmentation_parts

    require_at_most(cfg.rank_samples, len(eval_set), flag="rank_samples",
                    what="evaluation images")
    require_at_most(cfg.importance_samples, len(held), flag="importance_samples",
                    what="held-out images")
    rank_index = list(range(min(len(eval_set), cfg.rank_samples or len(eval_set))))
    signed_index = images_where(eval_set, cfg.rank_where) if cfg.rank_where else rank_index
    x = eval_set[0][0][None].float()
    with torch.no_grad():
        encoded = segmentation_parts(model.eval(), layer).encode(x)
    n_imp = min(len(held), cfg.importance_samples or len(held))
    return AttackInputs(spec=spec, checkpoint_model=model, train_set=None, val_set=held,
                        eval_set=eval_set, pretrain_sets=None, rank_index=rank_index,
                        signed_index=signed_index,
                        num_channels=check_ns(cfg, int(encoded.shape[1])),
                        num_classes=eval_set.num_classes,
                        importance_set=held.select(list(range(n_imp))), layer=layer)


def check_ns(cfg: AttackConfig, channels: int) -> int:
    too_big = [n for n in cfg.ns + cfg.region_ns if n > channels]
    if too_big:
        raise ChanposError(f"N = {max(too_big)} is larger than the {channels} channels of "
                           f"{cfg.model}'s attacked layer; use --ns/--region-ns values <= {channels}")
    return channels


def _check_circular(cfg: AttackConfig, model: nn.Module, image_size: tuple[int, int]) -> None:
    """Circular padding wraps a feature map at most once: the head's largest padding (ASPP
    dilation) must fit into the feature map."""
    if cfg.padding != "circular":
        return
    fmap = min(-(-s // cfg.output_stride) for s in image_size)
    pads = [max(m.padding) for m in model.classifier.modules()
            if isinstance(m, nn.Conv2d) and not isinstance(m.padding, str)]
    if pads and max(pads) > fmap:
        need = max(pads) * cfg.output_stride
        raise ChanposError(
            f"circular padding of the head's dilated convs ({max(pads)} px) is larger than the "
            f"{fmap}-pixel feature map of {image_size[0]}x{image_size[1]} images; use images of "
            f"at least {need} px per side or another --padding")


def images_where(data: Dataset, where: str) -> list[int]:
    """Indices of images whose class CLASS covers more of half SIDE than of the other half
    (and at least 0.5 % of that half): `where` = "CLASS:SIDE", e.g. "person:left"."""
    name, side = where.split(":")
    classes = list(data.class_names)
    if name not in classes:
        raise ChanposError(f"--rank-where: unknown class {name!r}; classes: {', '.join(classes)}")
    cls = classes.index(name)
    labels = data.labels if isinstance(getattr(data, "labels", None), Tensor) else None
    picked = []
    for i in range(len(data)):
        lab = labels[i] if labels is not None else data[i][1]
        half = lab.shape[-1] // 2
        left = int((lab[:, :half] == cls).sum())
        right = int((lab[:, lab.shape[-1] - half:] == cls).sum())
        mine, other = (left, right) if side == "left" else (right, left)
        if mine > other and mine >= 0.005 * half * lab.shape[-2]:
            picked.append(i)
    if not picked:
        raise ChanposError(f"--rank-where {where}: no validation image has {name} mostly on the "
                           f"{side}")
    return picked
