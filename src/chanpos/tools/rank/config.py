"""`chanpos rank`'s settings: which model and layer, on which images, how."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...names import BUILT_IN_SOURCES, FLIPS, RANK_MODES
from ...runs.compose import resolve
from ...runs.settings import setting
from ...runs.shared import PreprocessingSettings
from ...runs.validate import MAX_SEED, require_data_root, require_file

__all__ = ["RankConfig", "rank_config"]

_CLASSIFICATION = ", ".join(BUILT_IN_SOURCES["classification"])


def _any_sources() -> list[str]:
    from ...data import source_names

    return source_names("segmentation", "classification")


@dataclass(frozen=True, kw_only=True)
class RankConfig(PreprocessingSettings):
    """What `chanpos rank` ranks: which model and layer, on which images, how."""

    model: str | None = setting(
        None, help="A chanpos model (e.g. deeplabv3_small, gapnet) a torchvision.models "
        "name or timm:NAME (default: the architecture a chanpos --checkpoint names).", none_word="file",
        metavar="NAME")
    checkpoint: str | None = setting(
        None, help="Weights: a chanpos checkpoint (its architecture must be --model), the "
        "authors' file or a plain state dict (weights_only). Without it the weights are "
        "random.", metavar="FILE")
    layer: str | None = setting(None, help="Module name whose output is ranked (default: the "
                                "model's backbone, else its last feature map before global "
                                "pooling; `chanpos layers` lists them).")
    source: str | None = setting(
        None, help=f"Images: streets, cityscapes (segmentation) or a classification source "
        f"({_CLASSIFICATION}); default: the source a chanpos --checkpoint was trained on, else "
        "streets.", choices=_any_sources, what="source", none_word="model", metavar="NAME")
    data_root: str | None = setting(None, help="Folder holding the real dataset.",
                                    metavar="DIR")
    samples: int = setting(200, help="Number of images ranked on.", minimum=1)
    mode: str = setting("absolute", help="absolute (mean |d|) or signed (mean d).",
                        choices=RANK_MODES, what="mode")
    flip: str = setting("horizontal", help="horizontal (left/right) or vertical "
                        "(top/bottom).", choices=tuple(FLIPS), what="flip")
    top: int = setting(20, help="How many top channels to print.", minimum=1)
    seed: int = setting(0, help="Seed of the image draw.", minimum=0, maximum=MAX_SEED)
    image_size: tuple[int, int] = setting((64, 128), help="streets image size H,W.", minimum=16,
                                          metavar="H,W")
    batch_size: int = setting(25, help="Ranking batch size.", minimum=1)


def rank_config(base: str | Mapping[str, Any] = "",
                overrides: Mapping[str, Any] | None = None) -> RankConfig:
    """Validated settings from command-line values (`base` holds saved settings, if any)."""
    values = dict(base) if isinstance(base, Mapping) else {}
    cfg = resolve(RankConfig, "rank", values, overrides, complete=bool(values))
    require_data_root(cfg.data_root)
    require_file("--checkpoint", cfg.checkpoint, "checkpoint file")
    cfg.require_both()
    if cfg.model is None and cfg.checkpoint is None:
        from ...errors import ChanposError

        raise ChanposError("give --model (a chanpos, torchvision or timm:NAME model), or a chanpos "
                           "--checkpoint, which names its own architecture")
    return cfg
