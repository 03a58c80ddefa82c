"""Table 2's settings (Islam et al., ICCV 2021): a frozen config dataclass, each field one
setting (flag, profile key, config.yaml key, results key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...names import BACKBONES, BUILT_IN_SOURCES, OPTIMIZERS, SCHEDULES, SHIFT_MODES
from ...runs.compose import resolve
from ...runs.plateau import PlateauSettings
from ...runs.settings import setting
from ...runs.shared import RunSettings, finish_run_settings
from ...runs.validate import MAX_SEED, require_data_root, require_distinct

__all__ = ["MethodSpec", "TABLE2_METHODS", "Table2Config", "table2_config"]


@dataclass(frozen=True)
class MethodSpec:
    """What a Table 2 method changes: the loss, the downsampling, images seen per epoch."""

    augshift: bool
    antialias: bool
    repeats: int


TABLE2_METHODS: dict[str, MethodSpec] = {
    "baseline": MethodSpec(augshift=False, antialias=False, repeats=1),
    "augshift": MethodSpec(augshift=True, antialias=False, repeats=1),
    "blurpool": MethodSpec(augshift=False, antialias=True, repeats=1),
    "blurpool+augshift": MethodSpec(augshift=True, antialias=True, repeats=1),
    "baseline-2x": MethodSpec(augshift=False, antialias=False, repeats=2),
}
_SOURCES = ", ".join(BUILT_IN_SOURCES["classification"] + BUILT_IN_SOURCES["folder"])


def _table2_sources() -> list[str]:
    from ...data import source_names

    return source_names("classification", "folder")


@dataclass(frozen=True, kw_only=True)
class Table2Config(PlateauSettings, RunSettings):
    """Everything a Table 2 run needs, resolved from a profile and command-line values."""

    sources: tuple[str, ...] = setting(
        help=f"Image sources: {_SOURCES} (imagenet: an ImageNet-style folder with train/ and "
        "val/ class folders; the real ones need --data-root).", choices=_table2_sources,
        what="source", metavar="LIST")
    methods: tuple[str, ...] = setting(
        help="Methods: baseline, augshift, blurpool, blurpool+augshift, baseline-2x (the "
        "baseline seeing every image twice per epoch: AugShift's image forwards).",
        choices=tuple(TABLE2_METHODS), what="method", metavar="LIST")
    seeds: tuple[int, ...] = setting(
        help="Training seeds (initial weights and data order; methods are paired by seed).",
        minimum=0, maximum=MAX_SEED, metavar="LIST")
    backbone: str = setting(
        help="auto (the paper's 32 px ResNet-18 stem, torchvision's ResNet-18 for folders) or "
        "a backbone name.", choices=("auto", *BACKBONES), what="backbone")
    width: int = setting(help="ResNet-18 base width of the paper stem (64 = the paper).",
                         minimum=1)
    batch_size: int = setting(help="Training batch size.", minimum=1)
    train_samples: int | None = setting(
        help="Training images (a seeded class-balanced subset; all = every one).", minimum=1,
        none_word="all", metavar="N|all")
    test_samples: int | None = setting(help="Test images (all = the whole test split).",
                                       minimum=1, none_word="all", metavar="N|all")
    optimizer: str = setting(help="Optimiser.", choices=OPTIMIZERS, what="optimizer")
    lr: float = setting(help="Learning rate.", minimum=0.0, strict=True)
    weight_decay: float = setting(help="Weight decay.", minimum=0.0)
    schedule: str = setting(help="Learning-rate schedule over --max-epochs.", choices=SCHEDULES,
                            what="schedule")
    lam: float = setting(help="λ, the weight of AugShift's MSE(z1, z2) term (>= 0).",
                         minimum=0.0)
    max_shift: int = setting(help="Largest shift in pixels per axis, for training crops and the "
                             "consistency test.", minimum=0)
    shift_mode: str = setting(help="Padding of shifted images.", choices=SHIFT_MODES,
                              what="shift mode")
    pairs: int = setting(help="Shift pairs per test image in the consistency test.", minimum=1)
    blur_size: int = setting(help="BlurPool filter taps of the blurpool methods (3 = Zhang's "
                             "Tri-3).", minimum=2)
    bn_batches: int = setting(help="Training batches used to re-estimate BatchNorm statistics "
                              "after training (0 = off).", minimum=0)
    flip: bool = setting(True, help="Random horizontal flips in training.")
    eval_seed: int = setting(0, help="Seed of the consistency test's shift draws.", minimum=0,
                             maximum=MAX_SEED)

    def cells(self) -> list[tuple[str, str, int]]:
        """(source, method, seed) for every training run, in table order."""
        return [(s, m, seed) for s in self.sources for m in self.methods for seed in self.seeds]

    def backbone_of(self, source: str) -> str:
        """`auto` = the paper stem for 32 px data, torchvision's ResNet-18 for image folders."""
        if self.backbone != "auto":
            return self.backbone
        from ...data import source_kind

        return "resnet18" if source_kind(source) == "folder" else "paper_resnet18"

    def protocol(self) -> str:
        """The shift protocol of the consistency test, as one sentence."""
        from ...probes.invariance import shift_protocol

        return shift_protocol(self.max_shift, self.shift_mode, self.pairs, self.eval_seed)


def table2_config(base: str | Mapping[str, Any] = "quick",
                  overrides: Mapping[str, Any] | None = None) -> Table2Config:
    """A profile name (or saved settings) + command-line values -> the config."""
    cfg = resolve(Table2Config, "table2", base, overrides)
    for name in ("sources", "methods", "seeds"):
        require_distinct(cfg, name)
    cfg.check_schedule(cfg.schedule)
    require_data_root(cfg.data_root, download=cfg.download)
    return finish_run_settings(cfg, len(cfg.cells()))
