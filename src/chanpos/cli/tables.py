"""`chanpos table1` and `chanpos table2`: Tables 1 and 2 of Islam et al. (ICCV 2021)."""

from pathlib import Path
from typing import Annotated

import typer

from .app import (
    DataRoot,
    DeviceArgs,
    Download,
    Out,
    Profile,
    Resume,
    Seed,
    app,
    device_overrides,
    parse_list,
    run_command,
    user_errors,
    with_device_options,
)

Opt = typer.Option


@app.command()
@user_errors
@with_device_options
def table1(
    ctx: typer.Context,
    profile: Profile = "quick",
    source: Annotated[str | None, Opt(help="Image source: shapes, shapes-hard (built in), "
                                           "digits, mnist (optional extras), cifar10, cifar100 "
                                           "(need --data-root).")] = None,
    data_root: DataRoot = None,
    download: Download = False,
    models: Annotated[str | None, Opt(help="Comma list of heads: gapnet,permutenet.")] = None,
    paddings: Annotated[str | None, Opt(
        help="Comma list of paddings for the location task: zeros, reflect, replicate, circular, "
             "partial, none, valid.")] = None,
    object_paddings: Annotated[str | None, Opt(
        help="Comma list of paddings for the object task (default: the profile's, restricted "
             "to --paddings).")] = None,
    grid_sizes: Annotated[str | None, Opt(
        help="Comma list of grid sizes k >= 2 (k x k cells) for the location task.")] = None,
    object_grid_sizes: Annotated[str | None, Opt(
        help="Comma list of grid sizes for the object task (default: the profile's, restricted "
             "to --grid-sizes).")] = None,
    tasks: Annotated[str | None, Opt(help="Comma list: location, object.")] = None,
    epochs: Annotated[int | None, Opt(help="Training epochs (both tasks).")] = None,
    train_samples: Annotated[int | None, Opt(
        help="Training tiles (both tasks; a seeded class-balanced subset).")] = None,
    test_samples: Annotated[int | None, Opt(help="Test tiles.")] = None,
    width: Annotated[int | None, Opt(help="ResNet-18 base width (64 = paper).")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size (48 = paper).")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate (both tasks).")] = None,
    bn_batches: Annotated[int | None, Opt(
        help="Batches used to re-estimate BatchNorm statistics after training (0 = off).")] = None,
    seed: Seed = None,
    out: Out = Path("runs"),
    resume: Resume = None,
    device: DeviceArgs = None,  # type: ignore[assignment]  (the device option group)
) -> None:
    """Table 1: GAPNet vs PermuteNet on the grid setting (location and object tasks)."""
    overrides = dict(
        source=source, data_root=str(data_root) if data_root else None, download=download or None,
        models=parse_list(models, option="--models"),
        paddings=parse_list(paddings, option="--paddings"),
        object_paddings=parse_list(object_paddings, option="--object-paddings"),
        grid_sizes=parse_list(grid_sizes, int, option="--grid-sizes"),
        object_grid_sizes=parse_list(object_grid_sizes, int, option="--object-grid-sizes"),
        tasks=parse_list(tasks, option="--tasks"), epochs=epochs, train_samples=train_samples,
        test_samples=test_samples, width=width, batch_size=batch_size, lr=lr,
        bn_batches=bn_batches, seed=seed, **device_overrides(device),
    )
    run_command(ctx, "table1", overrides, profile=profile, out=out, resume=resume)


@app.command()
@user_errors
@with_device_options
def table2(
    ctx: typer.Context,
    profile: Profile = "quick",
    source: Annotated[str | None, Opt(
        help="Comma list of image sources: shapes-hard, shapes (built in), digits, mnist "
             "(optional extras), cifar10, cifar100, imagenet (an ImageNet-style folder with "
             "train/ and val/ class folders); the real ones need --data-root.")] = None,
    data_root: DataRoot = None,
    download: Download = False,
    methods: Annotated[str | None, Opt(
        help="Comma list: baseline, augshift, blurpool, blurpool+augshift, baseline-2x.")] = None,
    seeds: Annotated[str | None, Opt(help="Comma list of training seeds, e.g. 0,1,2.")] = None,
    lam: Annotated[float | None, Opt(
        "--lambda", help="Weight of AugShift's MSE(z1, z2) term (>= 0).")] = None,
    max_shift: Annotated[int | None, Opt(
        help="Largest shift in pixels per axis, for training crops and the consistency test.")] = None,
    shift_mode: Annotated[str | None, Opt(
        help="Padding of shifted images: zeros, reflect, replicate, circular.")] = None,
    pairs: Annotated[int | None, Opt(
        help="Shift pairs per test image in the consistency test.")] = None,
    epochs: Annotated[int | None, Opt(
        help="Training epochs (baseline-2x trains twice as many).")] = None,
    train_samples: Annotated[int | None, Opt(
        help="Training images (a seeded class-balanced subset).")] = None,
    test_samples: Annotated[int | None, Opt(help="Test images.")] = None,
    width: Annotated[int | None, Opt(help="ResNet-18 base width (64 = paper).")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size.")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate.")] = None,
    blur_size: Annotated[int | None, Opt(
        help="BlurPool filter taps for the blurpool methods (3 = Zhang's Tri-3).")] = None,
    bn_batches: Annotated[int | None, Opt(
        help="Batches used to re-estimate BatchNorm statistics after training (0 = off).")] = None,
    out: Out = Path("runs"),
    resume: Resume = None,
    device: DeviceArgs = None,  # type: ignore[assignment]
) -> None:
    """Table 2: AugShift vs baseline, BlurPool and equal compute (top-1 and shift consistency)."""
    overrides = dict(
        source=parse_list(source, option="--source"),
        data_root=str(data_root) if data_root else None, download=download or None,
        methods=parse_list(methods, option="--methods"),
        seeds=parse_list(seeds, int, option="--seeds"), lam=lam, max_shift=max_shift,
        shift_mode=shift_mode, pairs=pairs, epochs=epochs, train_samples=train_samples,
        test_samples=test_samples, width=width, batch_size=batch_size, lr=lr,
        blur_size=blur_size, bn_batches=bn_batches, **device_overrides(device),
    )
    run_command(ctx, "table2", overrides, profile=profile, out=out, resume=resume,
                rename={"source": "sources"})
