"""`chanpos` command line: thin wrappers that parse options, call one experiment, print.

User mistakes end with one line on stderr and exit code 2 (no traceback).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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
Source = Annotated[str | None, typer.Option(help="Image source: shapes, digits (built in, "
                                                    "offline), cifar10, cifar100 (need --data-root).")]
DataRoot = Annotated[Path | None, typer.Option(help="Folder holding the real dataset "
                                                       "(e.g. the folder with cifar-10-batches-py/).")]
Download = Annotated[bool, typer.Option(help="Download the dataset into --data-root if missing "
                                             "(needs internet).")]
Out = Annotated[Path, typer.Option(help="Parent folder of the run folder "
                                        "(<out>/<command>-<timestamp>/).")]
Seed = Annotated[int | None, typer.Option(help="Random seed (data order, init, cells).")]
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
Jobs = Annotated[str | None, typer.Option(
    help="Training runs at once, each in its own CPU process with cores/jobs threads: auto "
         "(default) = one per CPU core when training on the CPU, 1 on a GPU or under "
         "DDP/torchrun; 1 = one after another with every thread.")]


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
    models: Annotated[str | None, typer.Option(help="Comma list of heads: gapnet,permutenet.")] = None,
    paddings: Annotated[str | None, typer.Option(
        help="Comma list of paddings for the location task: zeros, reflect, replicate, circular, "
             "partial, none, valid.")] = None,
    object_paddings: Annotated[str | None, typer.Option(
        help="Comma list of paddings for the object task (default: the profile's, restricted "
             "to --paddings).")] = None,
    grid_sizes: Annotated[str | None, typer.Option(help="Comma list of grid sizes k (k x k cells).")] = None,
    object_grid_sizes: Annotated[str | None, typer.Option(
        help="Comma list of grid sizes for the object task (default: the profile's, restricted "
             "to --grid-sizes).")] = None,
    tasks: Annotated[str | None, typer.Option(help="Comma list: location, object.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs (both tasks).")] = None,
    train_samples: Annotated[int | None, typer.Option(help="Training tiles (both tasks).")] = None,
    test_samples: Annotated[int | None, typer.Option(help="Test tiles.")] = None,
    width: Annotated[int | None, typer.Option(help="ResNet-18 base width (64 = paper).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (48 = paper).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (both tasks).")] = None,
    bn_batches: Annotated[int | None, typer.Option(
        help="Batches used to re-estimate BatchNorm statistics after training (0 = off).")] = None,
    seed: Seed = None,
    out: Out = Path("runs"),
    resume: Annotated[Path | None, typer.Option(
        help="Continue an interrupted table1 run folder (finished cells are kept).")] = None,
    jobs: Jobs = None,
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
        if jobs is not None:
            saved["jobs"] = jobs
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
            jobs=jobs, trainer=opts,
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
    jobs: Jobs = None,
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
    folder, report = reproduce_main(profile, out, opts, data_root=data_root, seed=seed, jobs=jobs,
                                   log=say)
    print_report(report, folder)


@app.command()
@user_errors
def attack(
    profile: Profile = "quick",
    source: Annotated[str | None, typer.Option(
        help="Segmentation data: streets (built in, offline) or cityscapes (needs "
             "--data-root).")] = None,
    data_root: Annotated[Path | None, typer.Option(
        help="Cityscapes folder holding leftImg8bit/ and gtFine/ (torchvision's layout).")] = None,
    model: Annotated[str | None, typer.Option(
        help="deeplabv3_small, deeplabv3_resnet50, deeplabv3_resnet101 or fcn_resnet50.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Attack this trained model instead of training one: a chanpos model.pt, the "
             "authors' DeepLabV3Plus-Pytorch file or a torchvision state dict.")] = None,
    ns: Annotated[str | None, typer.Option(
        help="Comma list of channel counts N to zero, e.g. 0,8,16,32.")] = None,
    region_ns: Annotated[str | None, typer.Option(
        help="Comma list of N for the left/right region attack.")] = None,
    random_draws: Annotated[int | None, typer.Option(
        help="Random channel draws per N (>= 3).")] = None,
    rank_images: Annotated[Path | None, typer.Option(
        help="Text file of validation image names for the signed (region) ranking, e.g. the "
             "authors' CityPerson.txt.")] = None,
    rank_where: Annotated[str | None, typer.Option(
        help="CLASS:SIDE, e.g. person:left: the signed ranking uses only validation images "
             "with that class mostly on that side ('all': every ranking image).")] = None,
    rank_samples: Annotated[int | None, typer.Option(
        help="Rank on the first N validation images (default: all).")] = None,
    val_samples: Annotated[int | None, typer.Option(help="Validation images evaluated.")] = None,
    train_samples: Annotated[int | None, typer.Option(help="Training images.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Training batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    width: Annotated[int | None, typer.Option(
        help="deeplabv3_small: first-stage width (C = 8 x width at the head input).")] = None,
    output_stride: Annotated[int | None, typer.Option(help="Output stride: 16 or 8.")] = None,
    padding: Annotated[str | None, typer.Option(
        help="Padding of every conv: zeros, reflect, replicate, circular, partial, none.")] = None,
    image_size: Annotated[str | None, typer.Option(help="streets image size H,W.")] = None,
    same_texture: Annotated[bool | None, typer.Option(
        "--same-texture/--distinct-texture",
        help="streets: paint road and sidewalk alike (only position separates them).")] = None,
    examples: Annotated[int | None, typer.Option(help="Rows of the qualitative grid.")] = None,
    study: Annotated[bool, typer.Option(
        help="Run the factor study (profiles/attack_study.yaml) instead of one attack.")] = False,
    study_cells: Annotated[str | None, typer.Option(
        help="With --study: comma list of study cells to run (default: all).")] = None,
    study_workers: Annotated[int, typer.Option(
        help="With --study: cells run in parallel, one CPU thread each.")] = 1,
    study_resume: Annotated[Path | None, typer.Option(
        help="With --study: an earlier study folder; its finished cells are kept.")] = None,
    seed: Seed = None,
    out: Out = Path("runs"),
    workers: Workers = 0,
    accelerator: Accelerator = "auto",
    devices: Devices = "auto",
    strategy: Strategy = "auto",
    num_nodes: NumNodes = 1,
    precision: Precision = "32-true",
    progress: Progress = True,
) -> None:
    """Figures 4-6: rank position-encoding channels, zero the top N vs N random ones."""
    from .experiments.attack import attack_config, attack_main

    opts = trainer_options(accelerator, devices, strategy, num_nodes, precision, seed or 0,
                           progress, False, False)
    size = parse_list(image_size, int, option="--image-size")
    if size is not None and len(size) != 2:
        raise ChanposError(f"--image-size takes H,W, got {image_size!r}")
    overrides = dict(
        source=source, data_root=data_root, model=model, checkpoint=checkpoint,
        ns=parse_list(ns, int, option="--ns"),
        region_ns=parse_list(region_ns, int, option="--region-ns"),
        random_draws=random_draws, rank_images=rank_images, rank_where=rank_where,
        rank_samples=rank_samples,
        val_samples=val_samples, train_samples=train_samples, epochs=epochs,
        batch_size=batch_size, lr=lr, width=width, output_stride=output_stride, padding=padding,
        image_size=size, same_texture=same_texture, examples=examples, seed=seed,
        num_workers=workers, trainer=opts,
    )
    if study:
        from .experiments.attack_study import study_main

        folder, report = study_main(profile, out, overrides,
                                    cells=parse_list(study_cells, option="--study-cells"),
                                    workers=study_workers, resume=study_resume, log=say)
        print_report(report, folder)
        return
    cfg = attack_config(profile, **overrides)
    folder, report, _ = attack_main(cfg, out, log=say)
    print_report(report, folder)


@app.command()
@user_errors
def rank(
    model: Annotated[str, typer.Option(
        help="A chanpos model (e.g. deeplabv3_small, gapnet) or a torchvision.models name.")],
    checkpoint: Annotated[Path | None, typer.Option(
        help="Weights: a chanpos checkpoint, the authors' file or a plain state dict "
             "(weights_only). Without it the weights are random.")] = None,
    layer: Annotated[str | None, typer.Option(
        help="Module name whose output is ranked (default: backbone, else layer4).")] = None,
    source: Annotated[str, typer.Option(
        help="Images: streets, cityscapes (segmentation) or a classification source "
             "(shapes, digits, cifar10, cifar100).")] = "streets",
    data_root: DataRoot = None,
    samples: Annotated[int, typer.Option(help="Number of images ranked on.")] = 200,
    mode: Annotated[str, typer.Option(help="absolute (mean |d|) or signed (mean d).")] = "absolute",
    flip: Annotated[str, typer.Option(
        help="horizontal (left/right) or vertical (top/bottom).")] = "horizontal",
    top: Annotated[int, typer.Option(help="How many top channels to print.")] = 20,
    image_size: Annotated[str, typer.Option(help="streets image size H,W.")] = "64,128",
    seed: Seed = None,
    out: Out = Path("runs"),
) -> None:
    """Audit a model: rank the channels of a layer by flip difference (Claim 3's ranking)."""
    from .experiments.attack import rank_main

    size = parse_list(image_size, int, option="--image-size")
    if size is None or len(size) != 2:
        raise ChanposError(f"--image-size takes H,W, got {image_size!r}")
    folder, report, _ = rank_main(
        model=model, checkpoint=checkpoint, layer=layer, source=source, out=out,
        data_root=str(data_root) if data_root else None, samples=samples, mode=mode, flip=flip,
        top=top, seed=seed or 0, image_size=(size[0], size[1]), log=say,
    )
    print_report(report, folder)


@app.command()
@user_errors
def table2(
    profile: Profile = "quick",
    source: Annotated[str | None, typer.Option(
        help="Comma list of image sources: shapes-hard, shapes, digits (built in, offline), "
             "cifar10, cifar100, imagenet (an ImageNet-style folder with train/ and val/ "
             "class folders); the real ones need --data-root.")] = None,
    data_root: DataRoot = None,
    download: Download = False,
    methods: Annotated[str | None, typer.Option(
        help="Comma list: baseline, augshift, blurpool, blurpool+augshift, baseline-2x.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma list of training seeds, e.g. 0,1.")] = None,
    lam: Annotated[float | None, typer.Option(
        "--lambda", help="Weight of AugShift's MSE(z1, z2) term (>= 0).")] = None,
    max_shift: Annotated[int | None, typer.Option(
        help="Largest shift in pixels per axis, for training crops and the consistency test.")] = None,
    shift_mode: Annotated[str | None, typer.Option(
        help="Padding of shifted images: zeros, reflect, replicate, circular.")] = None,
    pairs: Annotated[int | None, typer.Option(
        help="Shift pairs per test image in the consistency test.")] = None,
    epochs: Annotated[int | None, typer.Option(
        help="Training epochs (baseline-2x trains twice as many).")] = None,
    train_samples: Annotated[int | None, typer.Option(help="Training images.")] = None,
    test_samples: Annotated[int | None, typer.Option(help="Test images.")] = None,
    width: Annotated[int | None, typer.Option(help="ResNet-18 base width (64 = paper).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    blur_size: Annotated[int | None, typer.Option(
        help="BlurPool filter taps for the blurpool methods (3 = Zhang's Tri-3).")] = None,
    bn_batches: Annotated[int | None, typer.Option(
        help="Batches used to re-estimate BatchNorm statistics after training (0 = off).")] = None,
    out: Out = Path("runs"),
    resume: Annotated[Path | None, typer.Option(
        help="Continue an interrupted table2 run folder (finished runs are kept).")] = None,
    jobs: Jobs = None,
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
    """Table 2: AugShift vs baseline, BlurPool and equal compute (top-1 and shift consistency)."""
    from .experiments.table2 import table2_config, table2_config_from_folder, table2_main

    opts = trainer_options(accelerator, devices, strategy, num_nodes, precision, 0,
                           progress, channels_last, compile)
    if resume is not None:
        cfg = table2_config_from_folder(resume, opts, jobs=jobs)
    else:
        cfg = table2_config(
            profile, sources=parse_list(source, option="--source"),
            data_root=str(data_root) if data_root else None, download=download or None,
            methods=parse_list(methods, option="--methods"),
            seeds=parse_list(seeds, int, option="--seeds"), lam=lam, max_shift=max_shift,
            shift_mode=shift_mode, pairs=pairs, epochs=epochs, train_samples=train_samples,
            test_samples=test_samples, width=width, batch_size=batch_size, lr=lr,
            blur_size=blur_size, bn_batches=bn_batches, num_workers=workers, jobs=jobs,
            trainer=opts,
        )
    folder, report, _ = table2_main(cfg, out, resume=resume, log=say)
    print_report(report, folder)


@app.command()
@user_errors
def consistency(
    checkpoint: Annotated[Path, typer.Option(
        help="A trained chanpos classifier: model.pt from a table2 run (or its .ckpt).")],
    source: Annotated[str, typer.Option(
        help="Test data: the source the checkpoint was trained on (shapes-hard, shapes, "
             "digits, cifar10, cifar100).")] = "shapes-hard",
    data_root: DataRoot = None,
    download: Download = False,
    max_shift: Annotated[int, typer.Option(help="Largest shift in pixels per axis.")] = 4,
    shift_mode: Annotated[str, typer.Option(
        help="Padding of shifted images: zeros, reflect, replicate, circular.")] = "zeros",
    pairs: Annotated[int, typer.Option(help="Shift pairs per test image.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the shift draws.")] = 0,
    test_samples: Annotated[int | None, typer.Option(help="Test images (default: all).")] = None,
    batch_size: Annotated[int, typer.Option(help="Evaluation batch size.")] = 250,
) -> None:
    """Top-1 and shift consistency (Zhang 2019) of a trained classifier checkpoint."""
    from .experiments.table2 import checkpoint_consistency

    r = checkpoint_consistency(
        checkpoint, source, data_root=str(data_root) if data_root else None, download=download,
        max_shift=max_shift, shift_mode=shift_mode, pairs=pairs, seed=seed,
        test_samples=test_samples, batch_size=batch_size,
    )
    say(f"checkpoint: {r['checkpoint']} ({r['model']['name']}, {r['model'].get('kwargs', {})})")
    say(f"source: {source}, {r['images']} test images")
    say(f"protocol: {r['protocol']}")
    say(f"top-1: {r['top1_pct']:.2f} %")
    say(f"consistency: {r['consistency_pct']:.2f} %")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
