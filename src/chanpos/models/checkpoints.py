"""Checkpoints that rebuild their own architecture: {"chanpos_model": spec, "state_dict": ...}.

`spec` is a `ModelSpec` saved as {"name": registry name, "kwargs": builder keyword arguments,
"meta": what it was trained on} (files of chanpos 0.1 have no "meta"). Files load with
`torch.load(weights_only=True)`, so untrusted pickles are refused; Lightning's `.ckpt`
files written by chanpos carry the same key and load here too. The only globals allowed
beyond torch's defaults are those of `NUMPY_FLOAT64_GLOBALS` (a numpy float64 scalar, as
the DeepLabV3Plus-Pytorch training code stores `best_score`), and only during that load.
"""

from __future__ import annotations

import pickle
import struct
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ChanposError
from ..files import atomic_save
from .spec import ModelSpec

__all__ = [
    "NUMPY_FLOAT64_GLOBALS",
    "save_model_checkpoint",
    "read_checkpoint",
    "load_model_checkpoint",
    "strip_prefix",
    "refusal_reason",
    "state_dict_of",
]


def _numpy_float64_globals() -> tuple[tuple[Any, str], ...]:
    """(object, "module.name") pairs that rebuild a pickled numpy float64 scalar, and no more.

    A float64 pickles as `scalar(dtype("f8", False, True) + BUILD(state), raw 8 bytes)`.
    Built defensively: numpy 2 keeps `scalar` in `numpy._core.multiarray`, numpy 1.x in
    `numpy.core.multiarray` (and may lack `numpy._core`); without numpy the list is empty.
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return ()
    try:
        from numpy._core.multiarray import scalar  # numpy 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar
    f64_dtype_class = type(np.dtype(np.float64))
    entries: list[tuple[Any, str]] = [
        # the scalar reconstructor as numpy 1.x writers name it (the authors' checkpoints)
        (scalar, "numpy.core.multiarray.scalar"),
        # ... and as numpy 2 writers name it
        (scalar, "numpy._core.multiarray.scalar"),
        # the scalar's dtype pickles as REDUCE numpy.dtype("f8", False, True)
        (np.dtype, "numpy.dtype"),
    ]
    if f64_dtype_class is not np.dtype:
        # the dtype's BUILD (its state tuple) is allowed only on allow-listed types, and
        # dtype("f8") is an instance of this class (numpy 2: numpy.dtypes.Float64DType)
        entries.append(
            (f64_dtype_class, f"{f64_dtype_class.__module__}.{f64_dtype_class.__qualname__}")
        )
    return tuple(entries)


# Globals `read_checkpoint` allows on top of torch's weights_only defaults, only for its own
# `torch.load` call: exactly what a numpy float64 scalar needs (DeepLabV3Plus-Pytorch saves
# `best_score` as one). No ndarray, no `_reconstruct`, no other dtype class, no builtins.
NUMPY_FLOAT64_GLOBALS: tuple[tuple[Any, str], ...] = _numpy_float64_globals()


def save_model_checkpoint(model: nn.Module, spec: ModelSpec | dict[str, Any], path: Path) -> Path:
    """Save weights and the spec that rebuilds `model` (a `ModelSpec`, or its plain
    {"name", "kwargs"[, "meta"]} form), via a temp file and a rename."""
    if not isinstance(spec, ModelSpec):
        spec = ModelSpec.from_plain(spec, "the spec to save")
    state = {k: v.detach().cpu() for k, v in _unwrapped(model).state_dict().items()}
    doc = {"chanpos_model": spec.to_plain(), "state_dict": state}
    return atomic_save(path, lambda tmp: torch.save(doc, tmp))


def _unwrapped(model: nn.Module) -> nn.Module:
    """The module itself, not a torch.compile wrapper (whose keys carry `_orig_mod.`)."""
    return getattr(model, "_orig_mod", model)


def refusal_reason(exc: BaseException) -> str:
    """One line saying why torch refused a file.

    weights_only refusals are a multi-line text whose first line is generic ("Weights only
    load failed ..."); the line after "WeightsUnpickler error:" says what was refused
    ("Unsupported global: GLOBAL os.system ...", "Can only build ... but got <class ...>")
    and is kept, without torch's advice to allow-list it. Other errors keep their first line
    (with the exception type where that alone is uninformative).
    """
    text = str(exc).strip()
    marker = "WeightsUnpickler error:"
    if marker in text:  # the reason follows on the same line or after blank lines
        lines = text.split(marker, 1)[1].splitlines()
    else:
        lines = [line for line in text.splitlines() if "Unsupported global" in line or "GLOBAL" in line]
    reason = next((line.strip() for line in lines if line.strip()), "")
    if reason:
        # keep what was refused, never torch's advice (allow-listing, weights_only=False)
        for advice in (" Please use `torch.serialization.", " Check the documentation",
                       " You can use"):
            reason = reason.split(advice, 1)[0]
        return reason.strip()
    first = text.splitlines()[0].strip() if text else ""
    if first.startswith("Weights only load failed") or "weights_only" in first:
        return "the file holds objects a weights-only load does not allow"
    if not first:
        return type(exc).__name__
    return f"{type(exc).__name__}: {first}" if isinstance(exc, (KeyError, IndexError)) else first


def read_checkpoint(path: Path) -> dict[str, Any]:
    """`torch.load(path, weights_only=True)` with one-line errors for missing/foreign files.

    `NUMPY_FLOAT64_GLOBALS` is allowed for this load only (torch's `safe_globals` context),
    so the authors' DeepLabV3Plus-Pytorch files, whose `best_score` is a numpy float64, load.
    """
    path = Path(path)
    if path.is_dir():
        raise ChanposError(f"checkpoint {path} is a folder; give the checkpoint file itself")
    if not path.is_file():
        raise ChanposError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings(), \
                torch.serialization.safe_globals(list(NUMPY_FLOAT64_GLOBALS)):
            warnings.simplefilter("ignore")  # the refusal below is the one line the user sees
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError, KeyError,
            IndexError, TypeError, AttributeError, struct.error,
            AssertionError) as exc:  # junk or truncated files fail in many ways
        raise ChanposError(
            f"{path} is not a loadable PyTorch checkpoint (weights_only load refused it: "
            f"{refusal_reason(exc)})"
        ) from None
    if not isinstance(obj, dict):
        raise ChanposError(f"{path} holds a {type(obj).__name__}, not a checkpoint dictionary")
    return obj


def strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keys without `prefix` (e.g. Lightning's "model."), others dropped."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def state_dict_of(ckpt: dict[str, Any], path: Path, key: str = "state_dict") -> dict[str, Any]:
    """`ckpt[key]` checked to be a mapping of parameter names to tensors (one line if not)."""
    state = ckpt.get(key)
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ChanposError(f"{path}: its {key!r} entry is not a mapping of parameter names to "
                           "tensors; the file is damaged or not a model file")
    return state


def load_model_checkpoint(path: Path, *, expect: tuple[str, ...] | str | None = None
                          ) -> tuple[nn.Module, ModelSpec]:
    """Rebuild and load a chanpos model checkpoint -> (model in eval mode, its spec).

    `expect` names the registry models the caller can use (e.g. the classifiers); another
    architecture, a non-chanpos file or mismatching weights are user errors.
    """
    ckpt = read_checkpoint(path)
    if "chanpos_model" not in ckpt:
        raise ChanposError(
            f"{path} is not a chanpos checkpoint (no 'chanpos_model' entry); pass a model.pt or "
            f".ckpt written by chanpos"
        )
    spec = ModelSpec.from_plain(ckpt["chanpos_model"], str(path))
    wanted = (expect,) if isinstance(expect, str) else expect
    if wanted is not None and spec.name not in wanted:
        raise ChanposError(
            f"{path} holds a {spec.name!r} model, but this command needs one of: "
            f"{', '.join(wanted)}")
    state = state_dict_of(ckpt, path)
    if any(k.startswith("model.") for k in state):
        state = strip_prefix(state, "model.")
    model = spec.build()
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ChanposError(f"{path} does not match its declared architecture "
                           f"{spec.describe()}: {first}") from None
    return model.eval(), spec
