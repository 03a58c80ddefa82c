"""Loading any model a user names: a chanpos registry model, a torchvision.models name or a
timm architecture (`timm:NAME`), with weights from a chanpos model file, the authors'
DeepLabV3Plus-Pytorch file, a torchvision state dict, a DataParallel or Lightning file
(their `module.` / `model.` prefixes are stripped). Every file is read with
`torch.load(weights_only=True)`; a mismatch is one line naming the first missing key, the
first unexpected one and the first shape that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ChanposError
from ..names import SEGMENTATION_MODELS, TIMM_PREFIX, is_network
from .checkpoints import load_model_checkpoint, read_checkpoint
from .registry import list_models
from .segmentation import authors_state_dict
from .spec import ModelSpec

__all__ = ["load_any_model", "load_segmentation_checkpoint", "load_weights", "mismatch",
           "clean_state_dict", "model_statistics", "TIMM_EXTRA"]

TIMM_EXTRA = "timm"

_PREFIXES = ("module.", "_orig_mod.", "model.")  # DataParallel/DDP, torch.compile, Lightning


def clean_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """`state` without a prefix that every key carries (DataParallel `module.`, a compiled
    model's `_orig_mod.`, Lightning's `model.`), repeatedly."""
    changed = True
    while changed and state:
        changed = False
        for prefix in _PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                changed = True
    return state


def mismatch(own: dict[str, Tensor], state: dict[str, Any]) -> str | None:
    """One clause describing how `state` differs from a model's `own` state dict (None if it
    fits): counts with the first missing key, unexpected key and shape difference."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and isinstance(v, Tensor) and v.shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
    if wrong:
        problems.append(f"{len(wrong)} shape mismatches (first: {wrong[0]})")
    return "; ".join(problems) or None


def load_weights(net: nn.Module, state: dict[str, Any], path: Path, what: str) -> nn.Module:
    """`state` loaded into `net` (strict), or one line naming how it does not fit `what`."""
    problem = mismatch(net.state_dict(), state)
    if problem:
        raise ChanposError(f"{path} does not match {what}: {problem}")
    net.load_state_dict(state, strict=True)
    return net


def _weights_of(ckpt: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(the state dict inside a checkpoint, what layout it came in)."""
    for key, origin in (("model_state", "the authors' DeepLabV3Plus-Pytorch format"),
                        ("state_dict", "a state_dict entry"), ("model", "a model entry")):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key], origin
    return ckpt, "a plain state dict"


def _tensors(state: dict[str, Any], path: Path) -> dict[str, Any]:
    if not all(isinstance(k, str) for k in state) or not any(
            isinstance(v, Tensor) for v in state.values()):
        raise ChanposError(f"{path} holds no parameter tensors; give a model's state dict")
    return state


def _num_classes(state: dict[str, Any]) -> int:
    weight = state.get("classifier.4.weight")
    if not isinstance(weight, Tensor):
        raise ChanposError(
            "cannot read the class count: no 'classifier.4.weight' in the checkpoint"
        )
    return int(weight.shape[0])


def load_segmentation_checkpoint(path: Path, *, model: str = "deeplabv3_resnet50",
                                 **kwargs: Any) -> tuple[nn.Module, ModelSpec]:
    """Load a segmentation checkpoint -> (model in eval mode, spec).

    chanpos checkpoints rebuild their own architecture; the authors' files
    ({"model_state": ...}) and plain torchvision state dicts are loaded into `model` built
    with `kwargs` (the class count is read from the file).
    """
    ckpt = read_checkpoint(path)
    if "chanpos_model" in ckpt:
        loaded, spec = load_model_checkpoint(path)
        if not hasattr(loaded, "classifier") or not hasattr(loaded, "backbone"):
            raise ChanposError(f"{path} holds a {spec.name!r} model, not a segmentation model")
        return loaded, spec
    raw, origin = _weights_of(ckpt)
    state = _tensors(clean_state_dict(authors_state_dict(raw)), path)
    if any(k.startswith(("classifier.aspp.", "classifier.project.")) for k in state):
        raise ChanposError(
            f"{path} is a DeepLabV3+ checkpoint ({origin}); chanpos attacks DeepLabV3 models "
            f"(deeplabv3_resnet50/101): use a deeplabv3_* checkpoint"
        )
    if model not in SEGMENTATION_MODELS:
        raise ChanposError(
            f"--model {model!r} is not a segmentation model; choose one of: "
            f"{', '.join(SEGMENTATION_MODELS)}"
        )
    state = {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}
    spec = ModelSpec(model, {**kwargs, "num_classes": _num_classes(state)})
    net = spec.build()
    load_weights(net, state, path, f"{model} {spec.kwargs} ({origin})")
    return net.eval(), spec


def _head_classes(net: nn.Module, state: dict[str, Any]) -> int | None:
    """The class count of a state dict whose final linear layer differs from `net`'s only in
    its number of outputs (None if it does not)."""
    for key, own in net.state_dict().items():
        theirs = state.get(key)
        if (isinstance(theirs, torch.Tensor) and theirs.dim() == 2 == own.dim()
                and theirs.shape[1] == own.shape[1] and theirs.shape[0] != own.shape[0]):
            return int(theirs.shape[0])
    return None


def _timm(arch: str):
    """The timm package, after checking that it knows `arch` (one line if either fails)."""
    try:
        import timm
    except ImportError:
        raise ChanposError(f"--model {TIMM_PREFIX}{arch} needs timm: pip install "
                           f"'chanpos[{TIMM_EXTRA}]'") from None
    if arch not in timm.list_models():
        close = timm.list_models(f"*{arch[:4]}*")[:5]
        raise ChanposError(f"timm has no architecture {arch!r} (--model {TIMM_PREFIX}{arch})"
                           + (f"; close names: {', '.join(close)}" if close else ""))
    return timm


def _load_timm(arch: str, checkpoint: Path | None, num_classes: int) -> tuple[nn.Module, str]:
    """A timm architecture (never downloaded: pretrained=False) with weights from
    `checkpoint` (its class count read from the file's head) -> (model in eval, origin)."""
    timm = _timm(arch)
    if checkpoint is None:
        return (timm.create_model(arch, pretrained=False, num_classes=num_classes).eval(),
                "random weights (no --checkpoint)")
    raw, _ = _weights_of(read_checkpoint(checkpoint))
    state = _tensors(clean_state_dict(raw), checkpoint)
    net = timm.create_model(arch, pretrained=False)
    classes = _head_classes(net, state)
    if classes is not None:
        net = timm.create_model(arch, pretrained=False, num_classes=classes)
    load_weights(net, state, checkpoint, f"timm's {arch}")
    return net.eval(), str(checkpoint)


def model_statistics(name: str | None, checkpoint: Path | None
                     ) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """The input mean and std a model was trained with, as its own files say: a real
    network's, a chanpos model file's metadata, timm's configuration of the architecture;
    (None, None) when nothing says (torchvision names: the user states them)."""
    if is_network(name):
        from .real import real_network

        info, _ = real_network(name)
        return tuple(info.mean), tuple(info.std)
    if checkpoint is not None:
        ckpt = read_checkpoint(Path(checkpoint))
        if "chanpos_model" in ckpt:
            meta = ModelSpec.from_plain(ckpt["chanpos_model"], checkpoint).meta
            return meta.mean, meta.std
    if name is not None and name.startswith(TIMM_PREFIX):
        arch = name[len(TIMM_PREFIX):]
        cfg = _timm(arch).models.get_pretrained_cfg(arch)
        if cfg is not None and cfg.mean and cfg.std:
            return tuple(float(m) for m in cfg.mean), tuple(float(s) for s in cfg.std)
    return None, None


def load_any_model(name: str, checkpoint: Path | None, num_classes: int
                   ) -> tuple[nn.Module, str]:
    """A registry, torchvision or `timm:` model by name, with weights from `checkpoint` if given
    (chanpos, authors' or plain state-dict files; weights_only), or a real network / ONNX
    file (`models.real`) -> (model in eval, origin)."""
    import torchvision

    if is_network(name):
        if checkpoint is not None:
            raise ChanposError(f"--model {name} holds its own weights: drop --checkpoint")
        from .real import load_real_model

        net, info = load_real_model(name)
        return net, info.description
    if name.startswith(TIMM_PREFIX):
        return _load_timm(name[len(TIMM_PREFIX):], checkpoint, num_classes)
    if name in list_models():
        if checkpoint is None:
            return (ModelSpec(name, {"num_classes": num_classes}).build().eval(),
                    "random weights (no --checkpoint)")
        if "chanpos_model" in read_checkpoint(checkpoint):
            return load_model_checkpoint(checkpoint, expect=name)[0], str(checkpoint)
        if name in SEGMENTATION_MODELS:
            return load_segmentation_checkpoint(checkpoint, model=name)[0], str(checkpoint)
        raise ChanposError(f"{checkpoint} is not a chanpos checkpoint of a {name!r} model")
    if name not in torchvision.models.list_models():
        raise ChanposError(f"unknown --model {name!r}; use a chanpos model "
                           f"({', '.join(list_models())}), a torchvision.models name (e.g. "
                           f"resnet50, deeplabv3_resnet50) or {TIMM_PREFIX}NAME (a timm "
                           "architecture)")
    if checkpoint is None:
        return torchvision.models.get_model(name, weights=None).eval(), \
            "random weights (no --checkpoint)"
    raw, _ = _weights_of(read_checkpoint(checkpoint))
    state = _tensors(clean_state_dict(authors_state_dict(raw)), checkpoint)
    # torchvision's own segmentation weights carry the auxiliary head: build it too
    extra = {"aux_loss": True} if any(k.startswith("aux_classifier.") for k in state) else {}
    net = torchvision.models.get_model(name, weights=None, **extra)
    classes = _head_classes(net, state)
    if classes is not None:  # a classifier trained on another number of classes
        net = torchvision.models.get_model(name, weights=None, num_classes=classes, **extra)
    load_weights(net, state, checkpoint, f"torchvision's {name}")
    return net.eval(), str(checkpoint)
