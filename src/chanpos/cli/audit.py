"""`chanpos consistency` and `chanpos reproduce`."""

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
    run_command,
    user_errors,
    with_device_options,
)

Opt = typer.Option


@app.command()
@user_errors
def consistency(
    ctx: typer.Context,
    checkpoint: Annotated[Path, Opt(
        help="A trained chanpos classifier: model.pt from a table2 run (or its .ckpt).")],
    source: Annotated[str, Opt(
        help="Test data: the source the checkpoint was trained on (shapes-hard, shapes, "
             "digits, mnist, cifar10, cifar100).")] = "shapes-hard",
    data_root: DataRoot = None,
    download: Download = False,
    max_shift: Annotated[int, Opt(help="Largest shift in pixels per axis.")] = 4,
    shift_mode: Annotated[str, Opt(
        help="Padding of shifted images: zeros, reflect, replicate, circular.")] = "zeros",
    pairs: Annotated[int, Opt(help="Shift pairs per test image.")] = 3,
    seed: Annotated[int, Opt(help="Seed of the shift draws.")] = 0,
    test_samples: Annotated[int | None, Opt(help="Test images (default: all).")] = None,
    batch_size: Annotated[int, Opt(help="Evaluation batch size.")] = 250,
    out: Out = Path("runs"),
) -> None:
    """Top-1 and shift consistency (Zhang 2019) of a trained classifier checkpoint."""
    overrides = dict(checkpoint=str(checkpoint), source=source,
                     data_root=str(data_root) if data_root else None, download=download,
                     max_shift=max_shift, shift_mode=shift_mode, pairs=pairs, seed=seed,
                     test_samples=test_samples, batch_size=batch_size)
    run_command(ctx, "table2.consistency", overrides, profile="", out=out, resume=None)


@app.command()
@user_errors
@with_device_options
def reproduce(
    ctx: typer.Context,
    profile: Profile = "quick",
    data_root: DataRoot = None,
    seed: Seed = None,
    out: Out = Path("runs"),
    resume: Resume = None,
    device: DeviceArgs = None,  # type: ignore[assignment]
) -> None:
    """Every experiment of the paper with one profile, and one combined report.md."""
    overrides = dict(seed=seed, data_root=str(data_root) if data_root else None,
                     **device_overrides(device))
    run_command(ctx, "reproduce", overrides, profile=profile, out=out, resume=resume)
