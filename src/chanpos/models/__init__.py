"""Models: backbones, GAPNet/PermuteNet heads, padding conversion and the model registry."""

from . import classifiers as _classifiers  # noqa: F401  (registers builders)
from .backbones import BACKBONES, PaperResNet, TorchvisionResNet, build_backbone
from .checkpoints import load_model_checkpoint, read_checkpoint, save_model_checkpoint
from .heads import GAPClassifier, GAPNet, PermuteNet
from .padding import PADDING_MODES, PartialConv2d, ResizeConv2d, padding_of, set_padding
from .registry import create_model, list_models, register_model

__all__ = [
    "BACKBONES",
    "PADDING_MODES",
    "GAPClassifier",
    "GAPNet",
    "PaperResNet",
    "PartialConv2d",
    "PermuteNet",
    "ResizeConv2d",
    "TorchvisionResNet",
    "build_backbone",
    "create_model",
    "list_models",
    "load_model_checkpoint",
    "read_checkpoint",
    "save_model_checkpoint",
    "padding_of",
    "register_model",
    "set_padding",
]
