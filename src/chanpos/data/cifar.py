"""Safe reading of the CIFAR-10/100 python batches (the datasets of Islam et al., ICCV 2021,
Tables 1-2).

The official batches are pickles (written by Python 2's cPickle, protocol 2) of a dict with
bytes keys: b'data' (N x 3072 uint8 numpy array, rows R|G|B planes of 32x32), b'labels'
(CIFAR-10) or b'fine_labels' and b'coarse_labels' (CIFAR-100), b'batch_label' and
b'filenames'. A plain `pickle.load` of a file found under --data-root would run whatever
code a crafted file asks for, so `CifarUnpickler` resolves only the globals such a file
needs (numpy's array and dtype reconstruction) and refuses every other one.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import ChanposError
from ._messages import one_line

__all__ = ["CIFAR_LAYOUT", "CIFAR_ALLOWED_GLOBALS", "CifarUnpickler", "read_cifar",
           "read_cifar_batch"]

# name -> (folder, train files, test file, label key, classes, torchvision dataset class)
CIFAR_LAYOUT: dict[str, tuple[str, list[str], str, bytes, int, str]] = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "test_batch",
                b"labels", 10, "CIFAR10"),
    "cifar100": ("cifar-100-python", ["train"], "test", b"fine_labels", 100, "CIFAR100"),
}


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """`_codecs.encode` restricted to latin-1: how Python 3 writes bytes at protocol 2."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError(f"refused pickle call _codecs.encode(..., {encoding!r})")
    return text.encode("latin-1", errors)


def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 1.26 has no numpy._core
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


# (module, name) -> the object it resolves to; nothing else is ever imported
CIFAR_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),  # the official files
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),  # re-pickled by numpy 2
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,  # bytes in a protocol-2 pickle written by Python 3
}


class _RefusedGlobal(pickle.UnpicklingError):
    """A global outside `CIFAR_ALLOWED_GLOBALS`."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualname = f"{module}.{name}"


class CifarUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only `CIFAR_ALLOWED_GLOBALS` (numpy arrays, dicts, lists,
    ints and bytes): a crafted batch file cannot import or call anything else."""

    def find_class(self, module: str, name: str) -> Any:
        """The allowed object for `module.name`; any other global is refused."""
        try:
            return CIFAR_ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedGlobal(module, name) from None


def _refetch_hint(path: Path) -> str:
    return (f"replace it with the official file (--download into an empty --data-root "
            f"fetches {path.parent.name}/)")


def read_cifar_batch(path: Path, label_key: bytes, num_classes: int) -> tuple[np.ndarray, list[int]]:
    """One CIFAR python batch -> (data (N, 3072) uint8, N labels in 0..num_classes-1), checked."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            entry = CifarUnpickler(fh, encoding="bytes").load()
    except _RefusedGlobal as exc:
        raise ChanposError(
            f"{path} is not a CIFAR batch file (refused pickle global {exc.qualname}); "
            f"{_refetch_hint(path)}"
        ) from None
    except OSError as exc:
        raise ChanposError(f"cannot read {path} ({one_line(exc)})") from None
    except Exception as exc:  # truncated or corrupt: EOFError, UnpicklingError, ValueError...
        raise ChanposError(
            f"{path} is truncated or not a CIFAR batch file ({type(exc).__name__}: "
            f"{one_line(exc)}); {_refetch_hint(path)}"
        ) from None
    return _check_batch(path, entry, label_key, num_classes)


def _check_batch(path: Path, entry: Any, label_key: bytes,
                 num_classes: int) -> tuple[np.ndarray, list[int]]:
    def bad(what: str) -> ChanposError:
        return ChanposError(f"{path} is not a CIFAR batch file ({what}); {_refetch_hint(path)}")

    if not isinstance(entry, dict):
        raise bad(f"holds a {type(entry).__name__}, not a dict")
    if b"data" not in entry or label_key not in entry:
        raise bad(f"no {b'data'!r} or {label_key!r} entry; keys: {sorted(map(repr, entry))[:6]}")
    data = entry[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        got = " ".join(str(v) for v in (type(data).__name__, getattr(data, "dtype", None),
                                         getattr(data, "shape", None)) if v is not None)
        raise bad(f"data must be an N x 3072 uint8 array, got {got}")
    raw = entry[label_key]
    if not isinstance(raw, list | tuple) or not all(type(v) is int for v in raw):
        raise bad(f"{label_key!r} must be a list of ints")
    if len(raw) != data.shape[0]:
        raise bad(f"{len(raw)} labels for {data.shape[0]} images")
    if raw and not 0 <= min(raw) <= max(raw) < num_classes:
        raise bad(f"labels must be in 0..{num_classes - 1}, got {min(raw)}..{max(raw)}")
    return data, list(raw)


def read_cifar(name: str, root: Path, split: str) -> tuple[Tensor, Tensor]:
    """Read CIFAR-10/100 python batches under `root` -> (N, 3, 32, 32) uint8, (N,) labels."""
    folder, train_files, test_file, key, classes, _ = CIFAR_LAYOUT[name]
    files = train_files if split == "train" else [test_file]
    data, labels = [], []
    for fname in files:
        path = Path(root) / folder / fname
        if not path.is_file():
            raise ChanposError(
                f"{name}: {path} not found; point --data-root at the folder holding {folder}/ "
                f"or add --download"
            )
        batch, batch_labels = read_cifar_batch(path, key, classes)
        data.append(batch.reshape(-1, 3, 32, 32))
        labels.extend(batch_labels)
    return torch.from_numpy(np.concatenate(data)), torch.tensor(labels, dtype=torch.long)
