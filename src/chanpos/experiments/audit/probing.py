"""`chanpos audit`: the paper's question asked of one trained classification CNN.

1. Position through pooling, and channel order (Islam et al., ICCV 2021, Claim 1, on a frozen
   model): linear probes on the pooled vector of one layer for tiles on a k x k zero canvas,
   reading the cell and the tile's class, as is and with the channels shuffled per sample.
2. Position readout per stage (Islam, Jia, Bruce, ICLR 2020): SPC and MAE of H, V, G, HS, VS
   for every stage and all stages together, for the model and its controls: the same
   architecture with random weights, the same weights with circular padding, and the readout
   on the image alone.
3. Which channels: per stage, the flip scores and how concentrated they are; the readout on
   only the top-k flip-ranked channels of the probed layer against k random ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data import ImageSet, place_in_grid
from ...models import set_padding
from ...ops import Normalise, eval_device
from ...probes.channels import rank_position_channels, top_overlap
from ...probes.layers import horizontal_stride, total_stride
from ...probes.position import (
    ReadoutScore,
    fit_linear_probe,
    fit_readout,
    half_mass_fraction,
    pooled_vectors,
    stage_features,
)
from .rows import ChannelStage, ProbeReplicate, ReadoutRow, TopKRow

__all__ = ["AuditModels",
           "CONTROLS", "probe_replicate", "readout_rows",
           "channel_stages", "top_k_rows"]

# the audited model and its controls, in report order
CONTROLS = ("model", "random weights", "circular padding", "image alone")


@dataclass
class AuditModels:
    """The audited model and the two controls built from it (in eval mode, on the CPU)."""

    model: nn.Module
    random_weights: nn.Module
    circular: nn.Module
    layer: str
    stages: tuple[str, ...]
    description: str
    total_stride: int | None
    # the positive control of order-free semantics: a network trained with the channels
    # shuffled at every pass (a PermuteNet), probed at its `backbone`
    shuffle_trained: nn.Module | None = None

    def by_control(self) -> dict[str, nn.Module]:
        """The networks of the controls that have one."""
        return {"model": self.model, "random weights": self.random_weights,
                "circular padding": self.circular}


def build_controls(model: nn.Module, fresh: nn.Module, layer: str, stages: tuple[str, ...],
                   description: str, sample: Tensor | None = None, row: bool = False
                   ) -> AuditModels:
    """The audited model, its random-weight twin `fresh` and its circular-padding twin; the
    probed layer's stride along the cell shifts is measured on `sample` (any architecture;
    for cells in one `row` only the horizontal stride matters)."""
    model, fresh = model.eval(), fresh.eval()
    circular = set_padding(copy.deepcopy(model), "circular").eval()
    measure = horizontal_stride if row else total_stride
    stride = None if sample is None else measure(model, layer, sample)
    return AuditModels(model, fresh, circular, layer, tuple(stages), description, stride)


# ---- 1. pooled vectors and linear probes --------------------------------------------------

def _canvases(images: ImageSet, n: int, k: int, seed: int, rows: int | None = None
              ) -> tuple[Tensor, Tensor, Tensor]:
    """n tiles (a seeded draw) normalised and pasted into seeded cells of rows x k zero
    canvases (k x k by default) -> (canvases, cells, classes)."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(images), generator=g)[:n]
    cells = torch.randint(0, (k if rows is None else rows) * k, (idx.numel(),), generator=g)
    tiles = Normalise(images.mean, images.std)(images.images[idx])
    return place_in_grid(tiles, cells, k, rows), cells, images.labels[idx]


def probe_replicate(models: AuditModels, train: ImageSet, test: ImageSet, *, k: int, n: int,
                    n_test: int, replicate: int, seed: int, rows: int | None = None
                    ) -> ProbeReplicate:
    """Fit the replicate's probes on fresh canvases (seeded by `seed`) of rows x k cells."""
    xtr, ctr, ytr = _canvases(train, n, k, seed, rows)
    xte, cte, yte = _canvases(test, n_test, k, seed + 1, rows)
    pooled = {name: (pooled_vectors(net, models.layer, xtr), pooled_vectors(net, models.layer, xte))
              for name, net in models.by_control().items()}

    def probe(control: str, ytrain: Tensor, ytest: Tensor, classes: int, shuffle: bool = False):
        ztr, zte = pooled[control]
        return fit_linear_probe(ztr, ytrain, zte, ytest, classes, shuffle=shuffle, seed=seed)

    cells, classes = (k if rows is None else rows) * k, train.num_classes
    results = {
        "location": probe("model", ctr, cte, cells),
        "location_shuffled": probe("model", ctr, cte, cells, shuffle=True),
        "objects": probe("model", ytr, yte, classes),
        "objects_shuffled": probe("model", ytr, yte, classes, shuffle=True),
        "random_weights_location": probe("random weights", ctr, cte, cells),
        "circular_location": probe("circular padding", ctr, cte, cells),
    }
    if models.shuffle_trained is not None:
        net = models.shuffle_trained
        layer = "backbone"  # a chanpos PermuteNet's pooled input
        pooled["shuffle-trained"] = (pooled_vectors(net, layer, xtr),
                                     pooled_vectors(net, layer, xte))
        results["control_objects"] = probe("shuffle-trained", ytr, yte, classes)
        results["control_objects_shuffled"] = probe("shuffle-trained", ytr, yte, classes,
                                                    shuffle=True)
    return ProbeReplicate(replicate=replicate, seed=seed,
                          **{name: r.accuracy_pct for name, r in results.items()},
                          probes_fitted=all(r.converged for r in results.values()))


# ---- 2. the position readout per stage ----------------------------------------------------

def readout_images(images: ImageSet, start: int, n: int, size: int) -> Tensor:
    """n normalised images from index `start`, resized to size x size."""
    x = Normalise(images.mean, images.std)(images.images[start:start + n])
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def _scores(control: str, stage: str, scores: list[ReadoutScore]) -> list[ReadoutRow]:
    return [ReadoutRow(control, stage, s.map, None if s.spc is None else round(s.spc, 4),
                       round(s.mae, 4), s.spc_images) for s in scores]


def readout_rows(models: AuditModels, train_x: Tensor, test_x: Tensor, cfg: Any,
                 step: Callable[[], None] = lambda: None) -> tuple[list[ReadoutRow], str]:
    """Every control x (each stage, all stages) readout -> rows, and the precision the
    features were stored in (`readout_dtype`); `step()` after each readout fitted. One
    network's stage features are held at a time (a wide model's take gigabytes), and the
    readout on all stages reads them in parts, never joined."""
    rows: list[ReadoutRow] = []
    precision = "float32"
    fit = {"maps": cfg.maps, "epochs": cfg.readout_epochs, "lr": cfg.readout_lr, "seed": cfg.seed}
    for control, net in models.by_control().items():
        tr = stage_features(net, models.stages, train_x, cfg.readout_size)
        te = stage_features(net, models.stages, test_x, cfg.readout_size)
        precision = str(tr[0].dtype).removeprefix("torch.")
        for i, stage in enumerate(models.stages):  # no loop name outlives the features
            rows += _scores(control, stage, fit_readout(tr[i], te[i], **fit))
            step()
        rows += _scores(control, "all", fit_readout(tr, te, **fit))
        del tr, te  # before the next network's features exist
        step()
    size = (cfg.readout_size, cfg.readout_size)
    alone = [F.interpolate(x, size=size, mode="bilinear", align_corners=False)
             for x in (train_x, test_x)]
    rows += _scores("image alone", "image", fit_readout(*alone, **fit))
    step()
    return rows, precision


# ---- 3. which channels ----------------------------------------------------------------------

def channel_stages(models: AuditModels, images: Tensor, top: int = 10, device: Any = None,
                   step: Callable[[], None] = lambda: None
                   ) -> tuple[list[ChannelStage], dict[str, Tensor]]:
    """Flip scores of every stage and of the probed layer -> rows and each layer's order
    (`step()` after each layer ranked)."""
    out, orders = [], {}
    for stage in dict.fromkeys((*models.stages, models.layer)):
        ranking = rank_position_channels(models.model, stage, images.split(50), "absolute",
                                         device=device)
        half = images.shape[0] // 2
        halves = [rank_position_channels(models.model, stage, part.split(50), "absolute",
                                         device=device)
                  for part in (images[:half], images[half:])] if half else []
        orders[stage] = ranking.order
        n = min(top, ranking.num_channels)
        out.append(ChannelStage(stage, ranking.num_channels,
                                round(half_mass_fraction(ranking.scores), 4),
                                tuple(ranking.order[:n].tolist()),
                                tuple(round(float(ranking.scores[c]), 6)
                                      for c in ranking.order[:n]),
                                top_overlap(*halves, n) if halves else None))
        step()
    return out, orders


def top_k_rows(features: list[Tensor], order: Tensor, stage: str, cfg: Any) -> list[TopKRow]:
    """The readout on the top-k flip-ranked channels of `stage` and on k random ones."""
    k = min(cfg.top_k, order.numel())
    g = torch.Generator().manual_seed(cfg.seed + 17)
    sets = [("flip-ranked", 0, order[:k])] + [
        ("random", d, torch.randperm(order.numel(), generator=g)[:k])
        for d in range(cfg.random_draws)]
    fit = {"maps": cfg.maps, "epochs": cfg.readout_epochs, "lr": cfg.readout_lr, "seed": cfg.seed}
    rows = []
    for kind, draw, channels in sets:
        for s in fit_readout(features[0][:, channels], features[1][:, channels], **fit):
            rows.append(TopKRow(stage, kind, draw, s.map,
                                None if s.spc is None else round(s.spc, 4), round(s.mae, 4)))
    return rows


def device_of(cfg: Any) -> torch.device:
    """Where the audit's forwards run."""
    return eval_device(cfg.accelerator)
