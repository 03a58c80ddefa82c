"""Settings every training command shares: data location, devices, parallel cells, files.

`RunSettings` is the base of each training experiment's config dataclass, so its fields are
fields of that config (one flag, one profile key, one `config.yaml` key each).
`finish_run_settings` validates the device options and fixes `jobs` and `threads` once per run
from the number of training runs, so a resumed run trains its cells as the uninterrupted one
would have.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..names import ACCELERATORS, PRECISIONS
from .settings import setting

__all__ = ["RunSettings", "PreprocessingSettings", "finish_run_settings", "trainer_options"]


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """Where the data is, where and how training runs, and what the run folder keeps."""

    PANEL: ClassVar[str] = "Data, devices and run folder"

    profile: str = setting(
        "quick", help="Settings preset: 'quick' (built-in data, CPU, minutes), 'paper' (the "
        "paper's datasets and budgets; GPU) or 'smoke' (a one-minute check; numbers "
        "meaningless).")
    data_root: str | None = setting(
        None, help="Folder holding the real datasets (e.g. the folder with "
        "cifar-10-batches-py/, or Cityscapes' leftImg8bit/ and gtFine/).", metavar="DIR")
    download: bool = setting(
        False, help="Allow network downloads: datasets into --data-root and pretrained "
        "weights. Without it chanpos never touches the network; a permission of this command "
        "line only (never taken from a saved run folder).", runtime=True, permission=True)
    accelerator: str = setting("auto", help="Lightning accelerator.", choices=ACCELERATORS,
                               what="accelerator")
    devices: str = setting("auto", help="Devices per node: a count (2), a list (0,1) or auto.")
    strategy: str = setting("auto", help="Lightning strategy: auto, ddp, ddp_spawn, ... (under "
                            "torchrun, ddp is chosen for you).")
    num_nodes: int = setting(1, help="Number of nodes for multi-node DDP.", minimum=1)
    precision: str = setting("32-true", help="Numeric precision.", choices=PRECISIONS,
                             what="precision")
    compile: bool = setting(False, help="torch.compile the model before training.")
    channels_last: bool = setting(True, help="channels_last memory format (faster on CPUs and "
                                  "tensor-core GPUs).")
    jobs: int | None = setting(
        None, help="Training runs at once, each in its own CPU process with threads = "
        "cores/jobs: auto (default) = one per CPU core when training on the CPU, 1 on a GPU or "
        "under DDP/torchrun; 1 = one after another with every thread.", minimum=1,
        none_word="auto", metavar="N|auto")
    threads: int | None = setting(
        None, help="CPU threads of each training run (auto = cores / jobs).", minimum=1,
        none_word="auto", metavar="N|auto")
    workers: int = setting(0, help="DataLoader worker processes.", minimum=0, runtime=True)
    progress: bool = setting(True, help="Show progress bars (only on a terminal).",
                             runtime=True)
    keep_checkpoints: bool = setting(
        False, help="Keep each finished cell's resume-only checkpoints (last.ckpt: weights, "
        "optimiser and loop state) to continue training later; by default they are removed "
        "once the cell's model.pt and row are written.", runtime=True)


def trainer_options(cfg: RunSettings, seed: int, **changes: Any) -> Any:
    """Lightning's TrainerOptions of this run for a training run seeded with `seed`."""
    from ..training.options import TrainerOptions

    opts = TrainerOptions(accelerator=cfg.accelerator, devices=str(cfg.devices),
                          strategy=cfg.strategy, num_nodes=cfg.num_nodes,
                          precision=cfg.precision, seed=seed, progress=cfg.progress,
                          channels_last=cfg.channels_last, compile=cfg.compile)
    return replace(opts, **changes)


def finish_run_settings(cfg: Any, cells: int) -> Any:
    """`cfg` with torchrun's devices filled in, device options checked, and `jobs` and
    `threads` fixed (ints) for a run of `cells` training runs."""
    from .parallel import cell_threads, resolve_jobs
    from .validate import require_devices

    opts = trainer_options(cfg, 0).resolved()  # torchrun's devices, strategy and nodes
    cfg = replace(cfg, devices=opts.devices, strategy=opts.strategy, num_nodes=opts.num_nodes)
    require_devices(cfg)
    jobs = resolve_jobs("auto" if cfg.jobs is None else cfg.jobs, opts, max(1, cells))
    threads = cfg.threads if cfg.threads is not None else cell_threads(jobs)
    return replace(cfg, jobs=jobs, threads=threads)


@dataclass(frozen=True, kw_only=True)
class PreprocessingSettings:
    """How images are normalised for a model a user hands over: its own statistics (from a
    chanpos model file), or these, else the data source's. Every report says which."""

    PANEL: ClassVar[str] = "Preprocessing"

    mean: tuple[float, float, float] | None = setting(
        None, help="Per-channel mean of the model's input normalisation, on pixels in [0, 1] "
        "(e.g. ImageNet's 0.485,0.456,0.406); default (model): the model file's own, else the "
        "source's.", minimum=0.0, maximum=1.0, none_word="model", metavar="R,G,B")
    std: tuple[float, float, float] | None = setting(
        None, help="Per-channel standard deviation of that normalisation (e.g. "
        "0.229,0.224,0.225); default (model) as --mean.", minimum=0.0, strict=True,
        none_word="model", metavar="R,G,B")

    def require_both(self) -> None:
        """--mean and --std come together."""
        if (self.mean is None) != (self.std is None):
            from ..errors import ChanposError

            raise ChanposError("give --mean and --std together (or neither: the model's own, "
                               "else the source's)")
