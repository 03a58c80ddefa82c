"""Checkpoints that rebuild their own architecture: {"chanpos_model": spec, "state_dict": ...}.

`spec` is {"name": registry name, "kwargs": builder keyword arguments}. Files load with
`torch.load(weights_only=True)`, so untrusted pickles are refused; Lightning's `.ckpt`
files written by chanpos carry the same key and load here too.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ChanposError
from .registry import create_model

__all__ = ["save_model_checkpoint", "read_checkpoint", "load_model_checkpoint", "strip_prefix"]


def save_model_checkpoint(model: nn.Module, spec: dict[str, Any], path: Path) -> Path:
    """Save weights and the spec that rebuilds `model`, via a temp file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"chanpos_model": spec, "state_dict": state}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """`torch.load(path, weights_only=True)` with one-line errors for missing/foreign files."""
    path = Path(path)
    if not path.is_file():
        raise ChanposError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, KeyError,
            IndexError, TypeError, AttributeError) as exc:  # junk bytes fail in many ways
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        first = f"{type(exc).__name__}: {first}" if isinstance(exc, (KeyError, IndexError)) \
            or not first else first
        raise ChanposError(
            f"{path} is not a loadable PyTorch checkpoint (weights_only load refused it: {first})"
        ) from None
    if not isinstance(obj, dict):
        raise ChanposError(f"{path} holds a {type(obj).__name__}, not a checkpoint dictionary")
    return obj


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keys without `prefix` (e.g. Lightning's "model."), others dropped."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def load_model_checkpoint(path: Path, *, expect: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild and load a chanpos model checkpoint -> (model in eval mode, spec).

    `expect` names the registry model the caller needs (e.g. "classifier"); another
    architecture, a non-chanpos file or mismatching weights are user errors.
    """
    ckpt = read_checkpoint(path)
    spec = ckpt.get("chanpos_model")
    if not isinstance(spec, dict) or "name" not in spec:
        raise ChanposError(
            f"{path} is not a chanpos checkpoint (no 'chanpos_model' entry); pass a model.pt or "
            f".ckpt written by chanpos"
        )
    if expect is not None and spec["name"] != expect:
        raise ChanposError(
            f"{path} holds a {spec['name']!r} model, but this command needs a {expect!r} model"
        )
    state = ckpt.get("state_dict", {})
    if any(k.startswith("model.") for k in state):
        state = strip_prefix(state, "model.")
    try:
        model = create_model(spec["name"], **spec.get("kwargs", {}))
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ChanposError(f"{path} does not match its declared architecture {spec}: {first}") from None
    return model.eval(), spec
