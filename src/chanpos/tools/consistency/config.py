"""`chanpos consistency`'s settings: which checkpoint, on which data, which shift protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...names import BUILT_IN_SOURCES, SHIFT_MODES
from ...runs.compose import resolve
from ...runs.settings import setting
from ...runs.shared import PreprocessingSettings
from ...runs.validate import MAX_SEED, require_data_root, require_file

__all__ = ["ConsistencyConfig", "consistency_config"]


def _classification_sources() -> list[str]:
    from ...data import source_names

    return source_names("classification")


@dataclass(frozen=True, kw_only=True)
class ConsistencyConfig(PreprocessingSettings):
    """What `chanpos consistency` measures: which checkpoint, on which data, which protocol."""

    checkpoint: str = setting(help="A trained classifier: a chanpos model.pt (of a table2 or "
                              "audit run, or its .ckpt) or the state dict of the --model "
                              "architecture (weights_only).", metavar="FILE")
    model: str | None = setting(
        None, help="The architecture of a state-dict --checkpoint: a torchvision.models name "
        "(e.g. resnet18), timm:NAME (a timm architecture) or a chanpos model (default: the one "
        "a chanpos file names).",
        none_word="file", metavar="NAME")
    source: str | None = setting(
        None, help="Test data (default: the source the model file says it was trained on; "
        f"one of {', '.join(BUILT_IN_SOURCES['classification'])}).",
        choices=_classification_sources, what="source", none_word="model", metavar="NAME")
    data_root: str | None = setting(None, help="Folder holding the real dataset.",
                                    metavar="DIR")
    download: bool = setting(False, help="Allow downloading the dataset into --data-root.")
    max_shift: int = setting(4, help="Largest shift in pixels per axis.", minimum=0)
    shift_mode: str = setting("zeros", help="Padding of shifted images.", choices=SHIFT_MODES,
                              what="shift mode")
    pairs: int = setting(3, help="Shift pairs per test image.", minimum=1)
    seed: int = setting(0, help="Seed of the shift draws.", minimum=0, maximum=MAX_SEED)
    test_samples: int | None = setting(None, help="Test images (all = every one).", minimum=1,
                                       none_word="all", metavar="N|all")
    batch_size: int = setting(250, help="Evaluation batch size.", minimum=1)
    accelerator: str = setting("auto", help="Where to evaluate: auto (a GPU if there is one) "
                               "or cpu.", choices=("auto", "cpu", "gpu", "cuda"),
                               what="accelerator")


def consistency_config(base: str | Mapping[str, Any] = "",
                       overrides: Mapping[str, Any] | None = None) -> ConsistencyConfig:
    """Validated settings from command-line values (`base` holds saved settings, if any)."""
    values = dict(base) if isinstance(base, Mapping) else {}
    cfg = resolve(ConsistencyConfig, "consistency", values, overrides, complete=bool(values))
    require_file("--checkpoint", cfg.checkpoint, "checkpoint file")
    require_data_root(cfg.data_root, download=cfg.download)
    cfg.require_both()
    return cfg
