import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from chanpos.data import load_source, make_shapes
from chanpos.errors import ChanposError


def test_shapes_deterministic_and_distinct_splits() -> None:
    a, la = make_shapes(20, seed=3)
    b, lb = make_shapes(20, seed=3)
    assert torch.equal(a, b) and torch.equal(la, lb)
    tr = load_source("shapes", split="train", num_samples=50)
    te = load_source("shapes", split="test", num_samples=50)
    assert tr.images.shape == (50, 3, 32, 32) and tr.images.dtype == torch.uint8
    assert not torch.equal(tr.images, te.images)
    assert set(tr.labels.tolist()) <= set(range(10))


def test_digits_source_is_real_upsampled_digits() -> None:
    pytest.importorskip("sklearn")
    tr = load_source("digits", split="train")
    te = load_source("digits", split="test")
    assert tr.images.shape[1:] == (3, 32, 32) and len(tr) + len(te) == 1797


def _write_cifar10(root: Path, n: int = 6) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, n))}
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh)


def test_cifar10_reads_files_written_here(tmp_path: Path) -> None:
    _write_cifar10(tmp_path)
    tr = load_source("cifar10", split="train", data_root=tmp_path)
    te = load_source("cifar10", split="test", data_root=tmp_path)
    assert tr.images.shape == (30, 3, 32, 32) and len(te) == 6 and tr.num_classes == 10


def test_cifar_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ChanposError, match="needs --data-root"):
        load_source("cifar10")
    with pytest.raises(ChanposError, match="not found; point --data-root"):
        load_source("cifar100", data_root=tmp_path)
    with pytest.raises(ChanposError, match="unknown source 'imagenet1k'"):
        load_source("imagenet1k")
