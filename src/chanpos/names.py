"""The glossary: every fixed set of names chanpos accepts, in one torch-free module.

Settings validate against these names, the command line lists them in `--help` without
importing torch, and the modules that implement each name import the tuple from here, so a
name is spelled once. Registries that can grow (models, data sources) live with their code;
`BUILT_IN_SOURCES` only documents the sources chanpos ships.
"""

from __future__ import annotations

__all__ = [
    "PADDING_MODES",
    "SHIFT_MODES",
    "TASKS",
    "BACKBONES",
    "TORCHVISION_RESNETS",
    "SEGMENTATION_MODELS",
    "REAL_MODELS",
    "ONNX_PREFIX",
    "TIMM_PREFIX",
    "CALLER_SOURCE",
    "network_subject",
    "is_network",
    "OUTPUT_STRIDES",
    "FLIPS",
    "RANK_MODES",
    "OPTIMIZERS",
    "SCHEDULES",
    "PRECISIONS",
    "ACCELERATORS",
    "SOURCE_KINDS",
    "BUILT_IN_SOURCES",
    "POSITION_MAPS",
]

# every padding mode of `set_padding` (PyTorch's padding_mode names, plus partial/none/valid)
PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular", "partial",
                                  "none", "valid")
# how pixels shifted in from outside an image are filled (shift consistency, AugShift views)
SHIFT_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
# Table 1's grid tasks: predict the tile's cell, or its class
TASKS: tuple[str, ...] = ("location", "object")
TORCHVISION_RESNETS: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101",
                                        "resnet152")
BACKBONES: tuple[str, ...] = ("paper_resnet18", *TORCHVISION_RESNETS)
SEGMENTATION_MODELS: tuple[str, ...] = ("deeplabv3_resnet50", "deeplabv3_resnet101",
                                        "fcn_resnet50", "deeplabv3_small")
# real pretrained networks read from an installed wheel (the extra `real`), and the prefix of
# an ONNX file given as a model (`onnx:PATH`)
REAL_MODELS: tuple[str, ...] = ("ppocr-det", "ppocr-cls")
ONNX_PREFIX = "onnx:"
# a timm architecture by name (`timm:resnet18`, the extra `timm`), weights from --checkpoint
TIMM_PREFIX = "timm:"
# the source a run records when the images came from the caller's own loaders (`chanpos.api`)
CALLER_SOURCE = "DataLoader"


def is_network(model: str | None) -> bool:
    """`model` names a network chanpos did not build: a real pretrained one or an ONNX file."""
    return model is not None and (model in REAL_MODELS or model.startswith(ONNX_PREFIX))


def network_subject(model: str | None) -> str | None:
    """The short name a verdict about a real network carries (`figure4.ppocr-det`; an ONNX
    file: its stem, dots replaced), or None for a model chanpos builds."""
    if not is_network(model):
        return None
    if model.startswith(ONNX_PREFIX):
        stem = model[len(ONNX_PREFIX):].replace("\\", "/").rsplit("/", 1)[-1]
        return stem.rsplit(".", 1)[0].replace(".", "-") or "onnx"
    return model
OUTPUT_STRIDES: tuple[int, ...] = (8, 16)
# flip name -> (tensor dimension flipped, the two sides its signed ranking names)
FLIPS: dict[str, tuple[int, tuple[str, str]]] = {
    "horizontal": (-1, ("left", "right")),
    "vertical": (-2, ("top", "bottom")),
}
RANK_MODES: tuple[str, ...] = ("absolute", "signed")
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")
SCHEDULES: tuple[str, ...] = ("constant", "cosine")
PRECISIONS: tuple[str, ...] = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "64-true")
ACCELERATORS: tuple[str, ...] = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
# what a data source gives: in-memory labelled images, a streamed image folder, or
# segmentation images with label maps
SOURCE_KINDS: tuple[str, ...] = ("classification", "folder", "segmentation")
BUILT_IN_SOURCES: dict[str, tuple[str, ...]] = {
    "classification": ("shapes", "shapes-hard", "mnist", "digits", "cifar10", "cifar100",
                       "folder", "text-crops"),
    "folder": ("imagenet",),
    "segmentation": ("streets", "cityscapes", "text", "icdar2015", "masks"),
}
# the position maps a PosENet readout is trained to draw (Islam, Jia, Bruce, ICLR 2020):
# horizontal and vertical gradients, a centred Gaussian, horizontal and vertical stripes
POSITION_MAPS: tuple[str, ...] = ("H", "V", "G", "HS", "VS")
