"""`chanpos rank`: rank any layer's channels of any model by flip difference (the ranking of
Figures 4-6 of Islam et al., ICCV 2021, as an audit of a user's own model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset
from torchmetrics.functional import spearman_corrcoef

from ...data import source_kind
from ...data.segmentation import collate_segmentation, load_segmentation_source
from ...errors import ChanposError
from ...models import (
    channels_last_ok,
    load_any_model,
    load_model_checkpoint,
    model_statistics,
    read_checkpoint,
)
from ...ops import Normalise
from ...ops.normalise import choose_normalisation
from ...probes.channels import check_feature_layer, rank_position_channels, top_overlap
from ...probes.layers import default_layer
from ...runs.folders import RunFolder, machine_description
from ...runs.lifecycle import Experiment, Outcome
from ...runs.reporting import Report, figure, heading, new_figure, save_figure
from ...runs.validate import require_at_most
from .config import RankConfig, rank_config

__all__ = ["EXPERIMENT"]


def _rank_images(cfg: RankConfig, source: str) -> tuple[Dataset, Normalise, int]:
    """(dataset of (uint8 image, ...), its normalisation, class count)."""
    if source_kind(source) == "segmentation":
        data = load_segmentation_source(source, split="val", data_root=cfg.data_root,
                                        num_samples=cfg.samples, seed=cfg.seed,
                                        image_size=cfg.image_size)
        require_at_most(cfg.samples, len(data), flag="--samples", what=f"{source} images")
        return data, Normalise(data.mean, data.std), data.num_classes
    from ...data import load_source

    images = load_source(source, split="test", data_root=cfg.data_root,
                         num_samples=cfg.samples, seed=cfg.seed)
    require_at_most(cfg.samples, len(images), flag="--samples", what=f"{source} images")
    return (torch.utils.data.TensorDataset(images.images, images.labels),
            Normalise(images.mean, images.std), images.num_classes)


def _model_and_source(cfg: RankConfig) -> tuple[str, str, Any, Any]:
    """(architecture name, image source, the model if already loaded, its normalisation if
    its file says it): a chanpos checkpoint names its architecture, the source it was
    trained on and its normalisation."""
    checkpoint = Path(cfg.checkpoint) if cfg.checkpoint else None
    if checkpoint is not None and "chanpos_model" in read_checkpoint(checkpoint):
        wanted = None if cfg.model is None else (cfg.model,)
        net, spec = load_model_checkpoint(checkpoint, expect=wanted)
        return (spec.name, cfg.source or spec.meta.source or "streets", net,
                (spec.meta.mean, spec.meta.std))
    if cfg.model is None:
        raise ChanposError(f"{checkpoint} is not a chanpos model file, so it does not name its "
                           "architecture: give --model")
    return cfg.model, cfg.source or "streets", None, model_statistics(cfg.model, checkpoint)


def _prepare(cfg: RankConfig) -> tuple[Any, ...]:
    name, source, net, own = _model_and_source(cfg)
    data, normalise, num_classes = _rank_images(cfg, source)
    mean, std, said = choose_normalisation((cfg.mean, cfg.std), own,
                                           (normalise.mean, normalise.std))
    normalise = Normalise(mean, std)
    origin = str(cfg.checkpoint)
    if net is None:
        net, origin = load_any_model(name, Path(cfg.checkpoint) if cfg.checkpoint else None,
                                     num_classes)
    sample = data[0][0].unsqueeze(0)
    x = normalise(torch.cat([sample, sample]))
    layer = cfg.layer or default_layer(net, x)  # the last feature map before global pooling
    check_feature_layer(net, layer, x)
    return data, normalise, net, origin, layer, name, source, said


def _stability(net: Any, layer: str, data: Dataset, normalise: Normalise, cfg: RankConfig,
               segmentation: bool, fast: bool, k: int) -> int | None:
    """How many of the top `k` channels the rankings of the two halves of `data` share."""
    half = len(data) // 2
    if half < 1:
        return None
    rankings = []
    for idx in (range(half), range(half, len(data))):
        loader = DataLoader(torch.utils.data.Subset(data, list(idx)), batch_size=cfg.batch_size,
                            collate_fn=collate_segmentation if segmentation else None)
        rankings.append(rank_position_channels(net, layer, (normalise(b[0]) for b in loader),
                                               cfg.mode, flip=cfg.flip, channels_last=fast))
    return top_overlap(*rankings, k)


def _run(cfg: RankConfig, prepared: tuple[Any, ...], folder: RunFolder, log) -> Outcome:
    data, normalise, net, origin, layer, name, source, said = prepared
    segmentation = source_kind(source) == "segmentation"
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=False,
                        collate_fn=collate_segmentation if segmentation else None)
    fast = channels_last_ok(net)
    ranking = rank_position_channels(net, layer, (normalise(b[0]) for b in loader), cfg.mode,
                                     flip=cfg.flip, channels_last=fast)
    k = min(cfg.top, ranking.num_channels)
    stable = _stability(net, layer, data, normalise, cfg, segmentation, fast, k)
    rows = [{"channel": int(c), "score": round(float(ranking.scores[c]), 6)}
            for c in ranking.order[:k]]
    rho = round(float(spearman_corrcoef(ranking.scores.abs().double(),
                                        ranking.magnitude.double())), 4)
    results = {"experiment": "rank", "model": name, "weights": origin, "layer": layer,
               "source": source, "images": ranking.num_images, "mode": cfg.mode,
               "flip": cfg.flip, "num_channels": ranking.num_channels, "top": rows,
               "order": ranking.order.tolist(),
               "scores": [round(float(s), 6) for s in ranking.scores],
               "sides": {s: o.tolist() for s, o in ranking.sides.items()},
               "magnitude": [round(float(s), 6) for s in ranking.magnitude],
               "spearman_score_vs_magnitude": rho, "top_overlap_of_halves": stable,
               "normalisation": {"mean": list(normalise.mean), "std": list(normalise.std),
                                 "from": said},
               "machine": machine_description()}
    score_name = "mean abs(d)" if cfg.mode == "absolute" else "mean d"
    report = Report([
        heading(1, f"Channel ranking of `{name}` at `{layer}` ({cfg.mode}, {cfg.flip} flip)"), "",
        f"Weights: {origin} · {ranking.num_images} `{source}` images · C = "
        f"{ranking.num_channels} · d = GAP(f(x)) − GAP(f(flip x)) · Spearman(|score|, mean "
        f"activation) = {rho:.2f}", "",
        f"Normalisation: mean {tuple(normalise.mean)}, std {tuple(normalise.std)} ({said}).",
        "",
        "Stability: the rankings of the two halves of the images share "
        + ("–" if stable is None else f"{stable} of their top {k} channels")
        + " (a ranking that changes with the images it is made on says little).", "",
        f"| rank | channel | {score_name} |", "|---|---|---|",
        *[f"| {i + 1} | {r['channel']} | {r['score']:.5g} |" for i, r in enumerate(rows)], "",
        figure("score histogram", "rank_histogram.png"), ""])

    def histogram(p: Path) -> Path:
        fig, axes = new_figure(1, 1, (5, 3.2))
        ax = axes[0, 0]
        ax.hist(ranking.scores.numpy(), bins=min(50, max(10, ranking.num_channels // 8)))
        ax.set_xlabel(f"{score_name} of the pooled channel")
        ax.set_ylabel("channels")
        ax.set_title(f"{name} {layer}: flip scores")
        fig.tight_layout()
        return save_figure(fig, p / "rank_histogram.png")

    def ranking_file(p: Path) -> Path:
        folder.write_json("ranking.json", {"order": results["order"], "scores": results["scores"],
                                           "sides": results["sides"]})
        return p / "ranking.json"

    return Outcome(results, report, [histogram, ranking_file])


EXPERIMENT = Experiment(name="rank", config=rank_config, prepare=_prepare, run=_run)
