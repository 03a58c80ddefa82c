"""`chanpos rank`: rank any layer's channels of any model by flip difference (the ranking of
Figures 4-6 of Islam et al., ICCV 2021, as an audit of a user's own model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchmetrics.functional import spearman_corrcoef

from ...data import source_kind
from ...data.segmentation import collate_segmentation, load_segmentation_source
from ...errors import ChanposError
from ...models import channels_last_ok, create_model
from ...ops import Normalise
from ...probes.channels import check_feature_layer, rank_position_channels
from ..lifecycle import Experiment, Outcome
from ..reporting import new_figure, save_figure
from ..runs import RunFolder, machine_description
from .config import RankConfig, rank_config

__all__ = ["load_any_model", "EXPERIMENT"]


def _rank_images(cfg: RankConfig) -> tuple[Dataset, Normalise, int]:
    """(dataset of (uint8 image, ...), its normalisation, class count)."""
    if source_kind(cfg.source) == "segmentation":
        data = load_segmentation_source(cfg.source, split="val", data_root=cfg.data_root,
                                        num_samples=cfg.samples, seed=cfg.seed,
                                        image_size=cfg.image_size)
        return data, Normalise(data.mean, data.std), data.num_classes
    from ...data import load_source

    images = load_source(cfg.source, split="test", data_root=cfg.data_root,
                         num_samples=cfg.samples, seed=cfg.seed)
    return (torch.utils.data.TensorDataset(images.images, images.labels),
            Normalise(images.mean, images.std), images.num_classes)


def _head_classes(net: nn.Module, state: dict[str, Any]) -> int | None:
    """The class count of a state dict whose final linear layer differs from `net`'s only in
    its number of outputs (None if it does not)."""
    for key, own in net.state_dict().items():
        theirs = state.get(key)
        if (isinstance(theirs, torch.Tensor) and theirs.dim() == 2 == own.dim()
                and theirs.shape[1] == own.shape[1] and theirs.shape[0] != own.shape[0]):
            return int(theirs.shape[0])
    return None


def load_any_model(name: str, checkpoint: Path | None, num_classes: int) -> tuple[nn.Module, str]:
    """A registry or torchvision model by name, with weights from `checkpoint` if given
    (chanpos, authors' or plain state-dict files; weights_only) -> (model in eval, origin)."""
    import torchvision

    from ...models import list_models, load_model_checkpoint, read_checkpoint
    from ...models.segmentation import (
        SEGMENTATION_MODELS,
        authors_state_dict,
        load_segmentation_checkpoint,
    )

    if name in list_models():
        if checkpoint is None:
            return (create_model(name, num_classes=num_classes).eval(),
                    "random weights (no --checkpoint)")
        if "chanpos_model" in read_checkpoint(checkpoint):
            return load_model_checkpoint(checkpoint, expect=name)[0], str(checkpoint)
        if name in SEGMENTATION_MODELS:
            return load_segmentation_checkpoint(checkpoint, model=name)[0], str(checkpoint)
        raise ChanposError(f"{checkpoint} is not a chanpos checkpoint of a {name!r} model")
    if name not in torchvision.models.list_models():
        raise ChanposError(f"unknown --model {name!r}; use a chanpos model "
                           f"({', '.join(list_models())}) or a torchvision.models name (e.g. "
                           "resnet50, deeplabv3_resnet50)")
    net = torchvision.models.get_model(name, weights=None)
    if checkpoint is None:
        return net.eval(), "random weights (no --checkpoint)"
    ckpt = read_checkpoint(checkpoint)
    state = ckpt.get("model_state", ckpt.get("state_dict", ckpt))
    classes = _head_classes(net, state)
    if classes is not None:  # a classifier trained on another number of classes
        net = torchvision.models.get_model(name, weights=None, num_classes=classes)
    try:
        net.load_state_dict(authors_state_dict(state), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ChanposError(f"{checkpoint} does not match torchvision's {name}: {first}") from None
    return net.eval(), str(checkpoint)


def _prepare(cfg: RankConfig) -> tuple[Any, ...]:
    data, normalise, num_classes = _rank_images(cfg)
    net, origin = load_any_model(cfg.model, Path(cfg.checkpoint) if cfg.checkpoint else None,
                                 num_classes)
    layer = cfg.layer
    if layer is None:
        names = dict(net.named_modules())
        layer = "backbone" if "backbone" in names else "layer4" if "layer4" in names else None
        if layer is None:
            raise ChanposError(f"{cfg.model} has no 'backbone' or 'layer4'; name one with --layer")
    sample = data[0][0].unsqueeze(0)
    check_feature_layer(net, layer, normalise(torch.cat([sample, sample])))
    return data, normalise, net, origin, layer


def _run(cfg: RankConfig, prepared: tuple[Any, ...], folder: RunFolder, log) -> Outcome:
    data, normalise, net, origin, layer = prepared
    segmentation = source_kind(cfg.source) == "segmentation"
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=False,
                        collate_fn=collate_segmentation if segmentation else None)
    ranking = rank_position_channels(net, layer, (normalise(b[0]) for b in loader), cfg.mode,
                                     flip=cfg.flip, channels_last=channels_last_ok(net))
    k = min(cfg.top, ranking.num_channels)
    rows = [{"channel": int(c), "score": round(float(ranking.scores[c]), 6)}
            for c in ranking.order[:k]]
    rho = round(float(spearman_corrcoef(ranking.scores.abs().double(),
                                        ranking.magnitude.double())), 4)
    results = {"experiment": "rank", "model": cfg.model, "weights": origin, "layer": layer,
               "source": cfg.source, "images": ranking.num_images, "mode": cfg.mode,
               "flip": cfg.flip, "num_channels": ranking.num_channels, "top": rows,
               "order": ranking.order.tolist(),
               "scores": [round(float(s), 6) for s in ranking.scores],
               "sides": {s: o.tolist() for s, o in ranking.sides.items()},
               "magnitude": [round(float(s), 6) for s in ranking.magnitude],
               "spearman_score_vs_magnitude": rho, "machine": machine_description()}
    score_name = "mean abs(d)" if cfg.mode == "absolute" else "mean d"
    report = "\n".join([
        f"# Channel ranking of `{cfg.model}` at `{layer}` ({cfg.mode}, {cfg.flip} flip)", "",
        f"Weights: {origin} · {ranking.num_images} `{cfg.source}` images · C = "
        f"{ranking.num_channels} · d = GAP(f(x)) − GAP(f(flip x)) · Spearman(|score|, mean "
        f"activation) = {rho:.2f}", "", f"| rank | channel | {score_name} |", "|---|---|---|",
        *[f"| {i + 1} | {r['channel']} | {r['score']:.5g} |" for i, r in enumerate(rows)], "",
        "![score histogram](rank_histogram.png)", ""])

    def histogram(p: Path) -> Path:
        fig, axes = new_figure(1, 1, (5, 3.2))
        ax = axes[0, 0]
        ax.hist(ranking.scores.numpy(), bins=min(50, max(10, ranking.num_channels // 8)))
        ax.set_xlabel(f"{score_name} of the pooled channel")
        ax.set_ylabel("channels")
        ax.set_title(f"{cfg.model} {layer}: flip scores")
        fig.tight_layout()
        return save_figure(fig, p / "rank_histogram.png")

    def ranking_file(p: Path) -> Path:
        folder.write_json("ranking.json", {"order": results["order"], "scores": results["scores"],
                                           "sides": results["sides"]})
        return p / "ranking.json"

    return Outcome(results, report, [histogram, ranking_file])


EXPERIMENT = Experiment(name="rank", config=rank_config, prepare=_prepare, run=_run,
                        resumable=False)
