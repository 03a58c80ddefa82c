"""`chanpos` command line: thin wrappers that parse options, call one experiment, print.

User mistakes end with one line on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .errors import ChanposError
from .experiments.profiles import parse_list
from .experiments.runs import is_rank_zero
from .training.options import PRECISIONS, TrainerOptions

app = typer.Typer(
    name="chanpos",
    help=(
        "Position information encoded channel-wise in CNNs (Islam et al., ICCV 2021): "
        "reproduce the paper's tables and run the same probes on your own models and data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# ---- options shared by the experiment commands (one spelling per concept) ----
Profile = Annotated[str, typer.Option(help="Settings preset: 'quick' (offline data, CPU, minutes) "
                                           "or 'paper' (the paper's datasets and budgets; GPU).")]
Source = Annotated[Optional[str], typer.Option(help="Image source: shapes, digits (built in, "
                                                    "offline), cifar10, cifar100 (need --data-root).")]
DataRoot = Annotated[Optional[Path], typer.Option(help="Folder holding the real dataset "
                                                       "(e.g. the folder with cifar-10-batches-py/).")]
Download = Annotated[bool, typer.Option(help="Download the dataset into --data-root if missing "
                                             "(needs internet).")]
Out = Annotated[Path, typer.Option(help="Parent folder of the run folder "
                                        "(<out>/<command>-<timestamp>/).")]
Seed = Annotated[Optional[int], typer.Option(help="Random seed (data order, init, cells).")]
Accelerator = Annotated[str, typer.Option(help="Lightning accelerator: auto, cpu, gpu, cuda, mps.")]
Devices = Annotated[str, typer.Option(help="Devices per node: a count (2), a list (0,1) or auto.")]
Strategy = Annotated[str, typer.Option(help="Lightning strategy: auto, ddp, ddp_spawn, ... "
                                            "(under torchrun, ddp is chosen for you).")]
NumNodes = Annotated[int, typer.Option(help="Number of nodes for multi-node DDP.")]
Precision = Annotated[str, typer.Option(help=f"Numeric precision: {', '.join(PRECISIONS)}.")]
Compile = Annotated[bool, typer.Option(help="torch.compile the model before training.")]
ChannelsLast = Annotated[bool, typer.Option(help="Use channels_last memory format (faster on "
                                                 "CPUs and tensor-core GPUs).")]
Progress = Annotated[bool, typer.Option(help="Show progress bars.")]
Workers = Annotated[int, typer.Option(help="DataLoader worker processes.")]


def trainer_options(
    accelerator: str, devices: str, strategy: str, num_nodes: int, precision: str, seed: int,
    progress: bool, channels_last: bool, compile: bool,
) -> TrainerOptions:
    """Validated Lightning device options from the command line."""
    if precision not in PRECISIONS:
        raise ChanposError(f"unknown --precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if num_nodes < 1:
        raise ChanposError(f"--num-nodes must be >= 1, got {num_nodes}")
    return TrainerOptions(
        accelerator=accelerator, devices=devices, strategy=strategy, num_nodes=num_nodes,
        precision=precision, seed=seed, progress=progress and sys.stderr.isatty(),
        channels_last=channels_last, compile=compile,
    ).resolved()


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ChanposError into one stderr line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChanposError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def say(text: str) -> None:
    """Print on rank 0 only (DDP children stay quiet)."""
    if is_rank_zero():
        typer.echo(text)


def print_report(report: str, folder: Path) -> None:
    """Print a report's tables (not its image links) and where the run folder is."""
    if not is_rank_zero():
        return
    body = "\n".join(line for line in report.splitlines() if not line.startswith("!["))
    typer.echo("\n" + body)
    typer.echo(f"run folder: {folder}")


@app.command()
@user_errors
def table1(
    profile: Profile = "quick",
    source: Source = None,
    data_root: DataRoot = None,
    download: Download = False,
    models: Annotated[Optional[str], typer.Option(help="Comma list of heads: gapnet,permutenet.")] = None,
    paddings: Annotated[Optional[str], typer.Option(
        help="Comma list of paddings for the location task: zeros, reflect, replicate, circular, "
             "partial, none, valid.")] = None,
    object_paddings: Annotated[Optional[str], typer.Option(
        help="Comma list of paddings for the object task (default: the profile's, restricted "
             "to --paddings).")] = None,
    grid_sizes: Annotated[Optional[str], typer.Option(help="Comma list of grid sizes k (k x k cells).")] = None,
    object_grid_sizes: Annotated[Optional[str], typer.Option(
        help="Comma list of grid sizes for the object task (default: the profile's, restricted "
             "to --grid-sizes).")] = None,
    tasks: Annotated[Optional[str], typer.Option(help="Comma list: location, object.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs (both tasks).")] = None,
    train_samples: Annotated[Optional[int], typer.Option(help="Training tiles (both tasks).")] = None,
    test_samples: Annotated[Optional[int], typer.Option(help="Test tiles.")] = None,
    width: Annotated[Optional[int], typer.Option(help="ResNet-18 base width (64 = paper).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size (48 = paper).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (both tasks).")] = None,
    bn_batches: Annotated[Optional[int], typer.Option(
        help="Batches used to re-estimate BatchNorm statistics after training (0 = off).")] = None,
    seed: Seed = None,
    out: Out = Path("runs"),
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue an interrupted table1 run folder (finished cells are kept).")] = None,
    workers: Workers = 0,
    accelerator: Accelerator = "auto",
    devices: Devices = "auto",
    strategy: Strategy = "auto",
    num_nodes: NumNodes = 1,
    precision: Precision = "32-true",
    compile: Compile = False,
    channels_last: ChannelsLast = True,
    progress: Progress = True,
) -> None:
    """Table 1: GAPNet vs PermuteNet on the grid setting (location and object tasks)."""
    from .experiments.table1 import table1_config, table1_main

    opts = trainer_options(accelerator, devices, strategy, num_nodes, precision, seed or 0,
                           progress, channels_last, compile)
    if resume is not None:
        import yaml

        from .experiments.table1 import Table1Config, TaskBudget

        cfg_file = resume / "config.yaml"
        if not cfg_file.is_file():
            raise ChanposError(f"--resume {resume}: no config.yaml there; is it a table1 run folder?")
        saved = yaml.safe_load(cfg_file.read_text())
        saved["location"], saved["object"] = TaskBudget(**saved["location"]), TaskBudget(**saved["object"])
        for key in ("models", "paddings", "object_paddings", "grid_sizes", "object_grid_sizes",
                    "tasks"):
            saved[key] = tuple(saved[key])
        saved["trainer"] = opts
        cfg = Table1Config(**saved)
    else:
        cfg = table1_config(
            profile,
            source=source, data_root=str(data_root) if data_root else None, download=download or None,
            models=parse_list(models, option="--models"),
            paddings=parse_list(paddings, option="--paddings"),
            object_paddings=parse_list(object_paddings, option="--object-paddings"),
            grid_sizes=parse_list(grid_sizes, int, option="--grid-sizes"),
            object_grid_sizes=parse_list(object_grid_sizes, int, option="--object-grid-sizes"),
            tasks=parse_list(tasks, option="--tasks"),
            epochs=epochs, train_samples=train_samples, test_samples=test_samples, width=width,
            batch_size=batch_size, lr=lr, bn_batches=bn_batches, seed=seed, num_workers=workers,
            trainer=opts,
        )
    folder, report, _ = table1_main(cfg, out, resume=resume, log=say)
    print_report(report, folder)


@app.command()
@user_errors
def reproduce(
    profile: Profile = "quick",
    data_root: DataRoot = None,
    seed: Seed = None,
    out: Out = Path("runs"),
    accelerator: Accelerator = "auto",
    devices: Devices = "auto",
    strategy: Strategy = "auto",
    num_nodes: NumNodes = 1,
    precision: Precision = "32-true",
    progress: Progress = True,
) -> None:
    """Every experiment of the paper with one profile, and one combined report.md."""
    from .experiments.reproduce import reproduce_main

    opts = trainer_options(accelerator, devices, strategy, num_nodes, precision, seed or 0,
                           progress, True, False)
    folder, report = reproduce_main(profile, out, opts, data_root=data_root, seed=seed, log=say)
    print_report(report, folder)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
