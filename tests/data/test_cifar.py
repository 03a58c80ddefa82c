import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from chanpos.data import load_source, read_cifar
from chanpos.data.cifar import CIFAR_ALLOWED_GLOBALS, read_cifar_batch
from chanpos.errors import ChanposError


def _entry(n: int = 6, classes: int = 10, seed: int = 0, cifar100: bool = False) -> dict:
    """A batch laid out like the official ones (bytes keys, int labels, uint8 N x 3072 data)."""
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.integers(0, classes, n)]
    entry = {b"batch_label": b"training batch 1 of 5",
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    if cifar100:
        entry[b"fine_labels"] = labels
        entry[b"coarse_labels"] = [v // 5 for v in labels]
    else:
        entry[b"labels"] = labels
    return entry


def _py2_pickle(entry: dict) -> bytes:
    """The bytes Python 2's cPickle (protocol 2) wrote for the official batches: str values
    as BINSTRING, numpy arrays via numpy.core.multiarray._reconstruct (no _codecs)."""

    def s(b: bytes) -> bytes:
        return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b

    def i(v: int) -> bytes:
        return b"J" + struct.pack("<i", v)

    def value(v: object) -> bytes:
        if isinstance(v, bytes):
            return s(v)
        if isinstance(v, int):
            return i(v)
        if isinstance(v, list):
            return b"](" + b"".join(value(x) for x in v) + b"e"
        assert isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.ndim == 2
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + i(0) + b"\x85"
                + s(b"b") + b"\x87R(" + i(1) + i(v.shape[0]) + i(v.shape[1]) + b"\x86"
                + b"cnumpy\ndtype\n" + s(b"u1") + i(0) + i(1) + b"\x87R("
                + i(3) + s(b"|") + b"NNN" + i(-1) + i(-1) + i(0) + b"tb\x89" + s(v.tobytes())
                + b"tb")

    return b"\x80\x02}(" + b"".join(s(k) + value(v) for k, v in entry.items()) + b"u."


def write_cifar10(root: Path, n: int = 6, py2: bool = False) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        entry = _entry(n, seed=k)
        data = _py2_pickle(entry) if py2 else pickle.dumps(entry, protocol=2)
        (folder / name).write_bytes(data)
    return folder


class Payload:
    """Unpickling this runs `code` (creates the sentinel file) under a plain pickle.load."""

    def __init__(self, code: str, how: str = "exec") -> None:
        self.code, self.how = code, how

    def __reduce__(self):
        if self.how == "system":
            return (os.system, (self.code,))
        return (exec, (self.code,))


def _error(path: Path, *args: object) -> str:
    with pytest.raises(ChanposError) as info:
        read_cifar_batch(path, *args) if args else read_cifar("cifar10", path.parent.parent, "test")
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_reads_protocol2_files_written_here(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    tr = load_source("cifar10", split="train", data_root=tmp_path)
    te = load_source("cifar10", split="test", data_root=tmp_path)
    assert tr.images.shape == (30, 3, 32, 32) and tr.images.dtype == torch.uint8
    assert len(te) == 6 and tr.num_classes == 10
    first = _entry(6, seed=0)
    assert torch.equal(tr.images[0].flatten(), torch.from_numpy(first[b"data"][0]))
    assert tr.labels[:6].tolist() == first[b"labels"]


def test_reads_python2_files_like_the_official_ones(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path, py2=True)
    raw = pickle.loads((folder / "test_batch").read_bytes(), encoding="bytes")  # the crafting is right
    assert raw[b"filenames"][0] == b"img_0.png" and raw[b"data"].shape == (6, 3072)
    images, labels = read_cifar("cifar10", tmp_path, "test")
    expected = _entry(6, seed=5)
    assert torch.equal(images.reshape(6, -1), torch.from_numpy(expected[b"data"]))
    assert labels.tolist() == expected[b"labels"]


def test_reads_cifar100_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for k, name in enumerate(["train", "test"]):
        (folder / name).write_bytes(pickle.dumps(_entry(8, 100, k, cifar100=True), protocol=2))
    te = load_source("cifar100", split="test", data_root=tmp_path)
    assert te.num_classes == 100 and te.labels.tolist() == _entry(8, 100, 1)[b"labels"]


def test_allow_list_is_numpy_reconstruction_only() -> None:
    assert set(CIFAR_ALLOWED_GLOBALS) == {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }


@pytest.mark.parametrize("how", ["exec", "system"])
def test_crafted_pickle_is_refused_and_never_runs(tmp_path: Path, how: str) -> None:
    folder = write_cifar10(tmp_path)
    sentinel = tmp_path / "pwned"
    code = f"open({str(sentinel)!r}, 'w').close()" if how == "exec" else f"touch '{sentinel}'"
    entry = _entry(6)
    entry[b"batch_label"] = Payload(code, how)
    crafted = pickle.dumps(entry, protocol=2)
    (folder / "test_batch").write_bytes(crafted)
    message = _error(folder / "test_batch")
    assert not sentinel.exists()
    # protocol 2 names builtins `__builtin__` (Python 2's name), as a real attacker's file may
    refused = "__builtin__.exec" if how == "exec" else f"{os.system.__module__}.system"
    assert f"is not a CIFAR batch file (refused pickle global {refused})" in message
    with pytest.raises(ChanposError):
        load_source("cifar10", split="test", data_root=tmp_path)
    assert not sentinel.exists()
    pickle.loads(crafted)  # the control: an unrestricted load runs the payload
    assert sentinel.exists()


def test_codecs_encode_is_limited_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "batch"
    # _codecs.encode('x', 'rot13') built by hand: the only _codecs use allowed is latin-1
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86R.")
    assert "rot13" in _error(path, b"labels", 10)


@pytest.mark.parametrize("cut", [0, 10, 3000])
def test_truncated_file_is_one_line_naming_it(tmp_path: Path, cut: int) -> None:
    folder = write_cifar10(tmp_path)
    path = folder / "test_batch"
    path.write_bytes(path.read_bytes()[:cut])
    assert "truncated or not a CIFAR batch file" in _error(path)


def test_garbage_file_is_one_line_naming_it(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(b"<html>\n<body>404</body>\n</html>\n")
    assert "not a CIFAR batch file" in _error(folder / "test_batch")


@pytest.mark.parametrize("change, expected", [
    ({b"data": np.zeros((6, 100), np.uint8)}, "N x 3072 uint8"),
    ({b"data": np.zeros((6, 3072), np.float32)}, "N x 3072 uint8"),
    ({b"data": [[0] * 3072] * 6}, "N x 3072 uint8"),
    ({b"labels": [1, 2, 3]}, "3 labels for 6 images"),
    ({b"labels": [0, 1, 2, 3, 4, 10]}, "labels must be in 0..9"),
    ({b"labels": [0, 1, 2, 3, 4, "5"]}, "list of ints"),
    ({b"labels": None}, "list of ints"),
])
def test_wrong_shapes_are_one_line_naming_the_file(
    tmp_path: Path, change: dict, expected: str
) -> None:
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({**_entry(6), **change}, protocol=2))
    assert expected in _error(path, b"labels", 10)


def test_not_a_dict_or_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    assert "holds a list, not a dict" in _error(path, b"labels", 10)
    path.write_bytes(pickle.dumps(_entry(6), protocol=2))
    assert "b'fine_labels'" in _error(path, b"fine_labels", 100)


def test_missing_files_and_roots_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ChanposError, match="needs --data-root"):
        load_source("cifar10")
    with pytest.raises(ChanposError, match="not found; point --data-root"):
        load_source("cifar100", data_root=tmp_path)
