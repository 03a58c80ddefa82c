"""Models: backbones, GAPNet/PermuteNet heads, padding conversion and the model registry."""

from . import classifiers as _classifiers  # noqa: F401  (registers builders)
from . import segmentation as _segmentation  # noqa: F401  (registers builders)
from .antialias import antialias_of, antialias_resnet
from .backbones import BACKBONES, PaperResNet, TorchvisionResNet, build_backbone
from .checkpoints import load_model_checkpoint, read_checkpoint, save_model_checkpoint
from .heads import GAPClassifier, GAPNet, PermuteNet
from .loading import load_any_model, load_segmentation_checkpoint, model_statistics
from .memory_format import channels_last_ok, channels_last_safe, to_channels_last
from .padding import PADDING_MODES, PartialConv2d, ResizeConv2d, padding_of, set_padding
from .registry import create_model, list_models, register_model
from .segmentation import SEGMENTATION_MODELS, authors_state_dict
from .spec import ModelMeta, ModelSpec

__all__ = [
    "BACKBONES",
    "PADDING_MODES",
    "GAPClassifier",
    "GAPNet",
    "ModelMeta",
    "ModelSpec",
    "PaperResNet",
    "SEGMENTATION_MODELS",
    "PartialConv2d",
    "PermuteNet",
    "ResizeConv2d",
    "TorchvisionResNet",
    "antialias_of",
    "antialias_resnet",
    "authors_state_dict",
    "build_backbone",
    "channels_last_ok",
    "channels_last_safe",
    "create_model",
    "list_models",
    "load_any_model",
    "load_model_checkpoint",
    "load_segmentation_checkpoint",
    "model_statistics",
    "read_checkpoint",
    "save_model_checkpoint",
    "padding_of",
    "register_model",
    "set_padding",
    "to_channels_last",
]
