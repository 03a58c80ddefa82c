"""`chanpos attack` and `chanpos rank`: Figures 4-6 of Islam et al. (ICCV 2021)."""

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ChanposError
from .app import (
    DeviceArgs,
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


def _size(text: str | None, option: str) -> list[int] | None:
    size = parse_list(text, int, option=option)
    if size is not None and len(size) != 2:
        raise ChanposError(f"{option} takes H,W, got {text!r}")
    return size


@app.command()
@user_errors
@with_device_options
def attack(
    ctx: typer.Context,
    profile: Profile = "quick",
    source: Annotated[str | None, Opt(
        help="Segmentation data: streets (built in, offline) or cityscapes (needs "
             "--data-root).")] = None,
    data_root: Annotated[Path | None, Opt(
        help="Cityscapes folder holding leftImg8bit/ and gtFine/ (torchvision's layout); also "
             "where real pretraining sources are read from.")] = None,
    model: Annotated[str | None, Opt(
        help="deeplabv3_small, deeplabv3_resnet50, deeplabv3_resnet101 or fcn_resnet50.")] = None,
    checkpoint: Annotated[Path | None, Opt(
        help="Attack this trained model instead of training some: a chanpos model.pt, the "
             "authors' DeepLabV3Plus-Pytorch file or a torchvision state dict.")] = None,
    seeds: Annotated[str | None, Opt(
        help="Comma list of model seeds: one model is trained per seed (the replicates of the "
             "verdicts), e.g. 0,1,2,3.")] = None,
    pretrain: Annotated[str | None, Opt(
        help="Pretrain the backbone on this classification source first (shapes, digits, "
             "mnist, cifar10, ...), as the paper's ImageNet-pretrained ResNet-50; 'none' = "
             "train from scratch.")] = None,
    pretrain_epochs: Annotated[int | None, Opt(help="Pretraining epochs.")] = None,
    pretrain_samples: Annotated[int | None, Opt(help="Pretraining images.")] = None,
    ns: Annotated[str | None, Opt(help="Comma list of channel counts N to zero, e.g. 0,8,16,32.")] = None,
    region_ns: Annotated[str | None, Opt(help="Comma list of N for the left/right region attack.")] = None,
    random_draws: Annotated[int | None, Opt(help="Random channel draws per N (>= 2).")] = None,
    rank_images: Annotated[Path | None, Opt(
        help="Text file of validation image names for the signed (region) ranking, e.g. the "
             "authors' CityPerson.txt.")] = None,
    rank_where: Annotated[str | None, Opt(
        help="CLASS:SIDE, e.g. person:left: the signed ranking uses only validation images "
             "with that class mostly on that side ('all': every ranking image).")] = None,
    rank_samples: Annotated[int | None, Opt(
        help="Rank on the first N validation images (default: all).")] = None,
    val_samples: Annotated[int | None, Opt(help="Validation images evaluated.")] = None,
    train_samples: Annotated[int | None, Opt(help="Training images.")] = None,
    epochs: Annotated[int | None, Opt(help="Segmentation training epochs.")] = None,
    batch_size: Annotated[int | None, Opt(help="Training batch size.")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate.")] = None,
    width: Annotated[int | None, Opt(
        help="deeplabv3_small: first-stage width (C = 8 x width at the head input).")] = None,
    output_stride: Annotated[int | None, Opt(help="Output stride: 16 or 8.")] = None,
    padding: Annotated[str | None, Opt(
        help="Padding of every conv: zeros, reflect, replicate, circular, partial, none.")] = None,
    image_size: Annotated[str | None, Opt(help="streets image size H,W.")] = None,
    same_texture: Annotated[bool | None, Opt(
        "--same-texture/--distinct-texture",
        help="streets: paint road and sidewalk alike (only position separates them).")] = None,
    examples: Annotated[int | None, Opt(help="Rows of the qualitative grid (0 = none).")] = None,
    study: Annotated[bool, Opt(
        help="Run the factor study (profiles/attack_study.yaml) instead of one attack; each "
             "cell is a whole attack run.")] = False,
    study_cells: Annotated[str | None, Opt(
        help="With --study: comma list of study cells to run (default: all).")] = None,
    out: Out = Path("runs"),
    resume: Resume = None,
    device: DeviceArgs = None,  # type: ignore[assignment]
) -> None:
    """Figures 4-6: rank position-encoding channels, zero the top N vs N random ones."""
    overrides = dict(
        source=source, data_root=str(data_root) if data_root else None, model=model,
        checkpoint=str(checkpoint) if checkpoint else None,
        seeds=parse_list(seeds, int, option="--seeds"), pretrain=pretrain,
        pretrain_epochs=pretrain_epochs, pretrain_samples=pretrain_samples,
        ns=parse_list(ns, int, option="--ns"),
        region_ns=parse_list(region_ns, int, option="--region-ns"),
        random_draws=random_draws, rank_images=str(rank_images) if rank_images else None,
        rank_where=rank_where, rank_samples=rank_samples, val_samples=val_samples,
        train_samples=train_samples, epochs=epochs, batch_size=batch_size, lr=lr, width=width,
        output_stride=output_stride, padding=padding,
        image_size=_size(image_size, "--image-size"), same_texture=same_texture,
        examples=examples, **device_overrides(device),
    )
    if study:
        overrides["study_cells"] = parse_list(study_cells, option="--study-cells")
        run_command(ctx, "attack.study", overrides, profile=profile, out=out, resume=resume)
    else:
        if study_cells is not None:
            raise ChanposError("--study-cells needs --study")
        run_command(ctx, "attack", overrides, profile=profile, out=out, resume=resume)


@app.command()
@user_errors
def rank(
    ctx: typer.Context,
    model: Annotated[str, Opt(
        help="A chanpos model (e.g. deeplabv3_small, gapnet) or a torchvision.models name.")],
    checkpoint: Annotated[Path | None, Opt(
        help="Weights: a chanpos checkpoint (its architecture must be --model), the authors' "
             "file or a plain state dict (weights_only). Without it the weights are random.")] = None,
    layer: Annotated[str | None, Opt(
        help="Module name whose output is ranked (default: backbone, else layer4).")] = None,
    source: Annotated[str, Opt(
        help="Images: streets, cityscapes (segmentation) or a classification source "
             "(shapes, digits, mnist, cifar10, cifar100).")] = "streets",
    data_root: Annotated[Path | None, Opt(help="Folder holding the real dataset.")] = None,
    samples: Annotated[int, Opt(help="Number of images ranked on (>= 1).")] = 200,
    mode: Annotated[str, Opt(help="absolute (mean |d|) or signed (mean d).")] = "absolute",
    flip: Annotated[str, Opt(help="horizontal (left/right) or vertical (top/bottom).")] = "horizontal",
    top: Annotated[int, Opt(help="How many top channels to print.")] = 20,
    image_size: Annotated[str, Opt(help="streets image size H,W.")] = "64,128",
    seed: Seed = None,
    out: Out = Path("runs"),
) -> None:
    """Audit a model: rank the channels of a layer by flip difference (Figures 4-6's ranking)."""
    overrides = dict(model=model, checkpoint=str(checkpoint) if checkpoint else None, layer=layer,
                     source=source, data_root=str(data_root) if data_root else None,
                     samples=samples, mode=mode, flip=flip, top=top,
                     image_size=_size(image_size, "--image-size"), seed=seed)
    run_command(ctx, "attack.rank", overrides, profile="", out=out, resume=None)
