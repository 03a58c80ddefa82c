"""The authors' DeepLabV3Plus-Pytorch checkpoints load with weights_only and a minimal allow-list.

Their training code saves {"cur_itrs", "model_state", "optimizer_state", "scheduler_state",
"best_score"} where `best_score` is a numpy float64 pickled under numpy 1.x's module path
(`numpy.core.multiarray.scalar`). These files are written here in exactly that layout, with
numpy 2 installed, by a pickler that names the scalar reconstructor the numpy 1.x way.
"""

from __future__ import annotations

import os
import pickle
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from chanpos.errors import ChanposError
from chanpos.models import create_model
from chanpos.models.checkpoints import NUMPY_FLOAT64_GLOBALS, read_checkpoint
from chanpos.models.loading import load_segmentation_checkpoint
from chanpos.models.segmentation import authors_state_dict

SERIALISATIONS = ("zip", "legacy")
_SCALAR = np.float64(0.0).__reduce__()[0]  # numpy's scalar reconstructor (numpy._core.multiarray)
BEST_SCORE = np.float64(np.nanmean(np.array([0.7, 0.75, np.nan])))  # a mean IoU, as they compute it
SMALL = {"num_classes": 19, "width": 4, "head_channels": 8}


# ---- writing checkpoints as the authors' code (under numpy 1.x) does -------------------------

class _Numpy1Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """The pure-Python pickler, but numpy's scalar reconstructor goes under numpy 1.x's path."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _SCALAR:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\nscalar\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def _numpy1_pickle_module() -> types.ModuleType:
    module = types.ModuleType("numpy1_pickle")
    module.Pickler = _Numpy1Pickler  # type: ignore[attr-defined]
    module.Unpickler = pickle.Unpickler  # type: ignore[attr-defined]
    module.load = pickle.load  # type: ignore[attr-defined]
    module.dump = lambda obj, f, protocol=None: _Numpy1Pickler(f, protocol).dump(obj)  # type: ignore[attr-defined]
    return module


class PolyLR(LRScheduler):
    """DeepLabV3Plus-Pytorch's `utils.scheduler.PolyLR`."""

    def __init__(self, optimizer: torch.optim.Optimizer, max_iters: int, power: float = 0.9,
                 last_epoch: int = -1, min_lr: float = 1e-6) -> None:
        self.power, self.max_iters, self.min_lr = power, max_iters, min_lr
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [max(base_lr * (1 - self.last_epoch / self.max_iters) ** self.power, self.min_lr)
                for base_lr in self.base_lrs]


def _pickle_bytes(path: Path) -> bytes:
    """The pickle stream(s) of a checkpoint: data.pkl of a zip file, the whole legacy file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return b"".join(archive.read(n) for n in archive.namelist() if n.endswith("data.pkl"))
    return path.read_bytes()


def _save(obj: Any, path: Path, serialisation: str, pickle_module: Any = pickle) -> Path:
    torch.save(obj, path, pickle_module=pickle_module,
               _use_new_zipfile_serialization=serialisation == "zip")
    assert zipfile.is_zipfile(path) == (serialisation == "zip")
    return path


def write_authors_checkpoint(model: nn.Module, path: Path, *, serialisation: str,
                             prefix: str = "", train_step: bool = False) -> dict[str, Any]:
    """Save `model` as DeepLabV3Plus-Pytorch's `save_ckpt` does -> the saved dictionary.

    `train_step` runs one SGD + PolyLR step first (momentum buffers in the optimizer state);
    `prefix="module."` mimics a DataParallel-wrapped model. `best_score` is a numpy float64
    whose pickle names `numpy.core.multiarray.scalar` (numpy 1.x), not `numpy._core`.
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scheduler = PolyLR(optimizer, max_iters=30000, power=0.9)
    if train_step:
        model.train()
        model(torch.randn(2, 3, 32, 32))["out"].mean().backward()
        optimizer.step()
        scheduler.step()
    model.eval()
    # their DeepLabV3 wraps the head Sequential: classifier.<i> -> classifier.classifier.<i>
    state = {prefix + ("classifier." + k if k.startswith("classifier.") else k): v
             for k, v in model.state_dict().items()}
    ckpt = {"cur_itrs": 30000, "model_state": state, "optimizer_state": optimizer.state_dict(),
            "scheduler_state": scheduler.state_dict(), "best_score": BEST_SCORE}
    _save(ckpt, path, serialisation, pickle_module=_numpy1_pickle_module())
    raw = _pickle_bytes(path)
    assert b"numpy.core.multiarray\nscalar\n" in raw and b"numpy\ndtype\n" in raw
    assert b"numpy._core" not in raw
    return ckpt


def _assert_refused(path: Path, *needles: str) -> str:
    with pytest.raises(ChanposError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "Weights only load failed" not in message  # torch's generic first line is dropped
    for needle in needles:
        assert needle in message, message
    return message


# ---- the authors' checkpoints load ---------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "module."])
@pytest.mark.parametrize("serialisation", SERIALISATIONS)
def test_authors_small_checkpoint_loads_strict_with_equal_outputs(
    tmp_path: Path, serialisation: str, prefix: str
) -> None:
    ref = create_model("deeplabv3_small", **SMALL)
    path = tmp_path / "best_deeplabv3_small_cityscapes_os16.pth"
    saved = write_authors_checkpoint(ref, path, serialisation=serialisation, prefix=prefix,
                                     train_step=True)
    assert all(k.startswith(prefix) for k in saved["model_state"])
    assert f"{prefix}classifier.classifier.4.weight" in saved["model_state"]
    state = authors_state_dict(read_checkpoint(path)["model_state"])
    model, spec = load_segmentation_checkpoint(path, model="deeplabv3_small", width=4,
                                               head_channels=8)
    assert (spec.name, spec.kwargs) == ("deeplabv3_small", {**SMALL})
    loaded = model.state_dict()
    assert set(state) == set(loaded) == set(ref.state_dict())  # every tensor of the file, strict
    assert all(torch.equal(state[k], loaded[k]) for k in loaded)
    assert not model.training
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        assert torch.equal(model(x)["out"], ref(x)["out"])


@pytest.mark.slow
def test_authors_resnet50_checkpoint_loads_strict_with_equal_outputs(tmp_path: Path) -> None:
    ref = create_model("deeplabv3_resnet50", num_classes=19, output_stride=16)
    path = tmp_path / "best_deeplabv3_resnet50_cityscapes_os16.pth"
    write_authors_checkpoint(ref, path, serialisation="zip")
    model, spec = load_segmentation_checkpoint(path, model="deeplabv3_resnet50", output_stride=16)
    assert (spec.name, spec.kwargs) == ("deeplabv3_resnet50", {"output_stride": 16, "num_classes": 19})
    ref_state, loaded = ref.state_dict(), model.state_dict()
    assert set(loaded) == set(ref_state)
    assert all(torch.equal(ref_state[k], loaded[k]) for k in loaded)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["out"], ref(x)["out"])


@pytest.mark.parametrize("serialisation", SERIALISATIONS)
def test_read_checkpoint_returns_numpy_float64_best_score_and_training_state(
    tmp_path: Path, serialisation: str
) -> None:
    ref = create_model("deeplabv3_small", **SMALL)
    path = tmp_path / "authors.pth"
    saved = write_authors_checkpoint(ref, path, serialisation=serialisation, train_step=True)
    before = set(torch.serialization.get_safe_globals())
    ckpt = read_checkpoint(path)
    after = set(torch.serialization.get_safe_globals())  # allowed for that load only:
    assert after == before and not after & set(NUMPY_FLOAT64_GLOBALS)
    with pytest.raises(pickle.UnpicklingError, match="numpy.core.multiarray.scalar"):
        torch.load(path, weights_only=True)  # so a plain weights_only load still refuses it
    assert set(ckpt) == {"cur_itrs", "model_state", "optimizer_state", "scheduler_state",
                         "best_score"}
    assert type(ckpt["best_score"]) is np.float64 and ckpt["best_score"] == BEST_SCORE
    assert ckpt["best_score"].dtype == np.dtype("float64")
    assert type(ckpt["cur_itrs"]) is int and ckpt["cur_itrs"] == 30000
    assert ckpt["scheduler_state"] == saved["scheduler_state"]
    opt, want = ckpt["optimizer_state"], saved["optimizer_state"]
    assert opt["param_groups"] == want["param_groups"]
    assert opt["state"].keys() == want["state"].keys() and opt["state"]
    assert all(torch.equal(opt["state"][i]["momentum_buffer"], want["state"][i]["momentum_buffer"])
               for i in want["state"])


def test_allow_list_is_exactly_the_float64_scalar_globals() -> None:
    names = {name for _, name in NUMPY_FLOAT64_GLOBALS}
    assert names == {"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
                     "numpy.dtype", "numpy.dtypes.Float64DType"}
    objects = {name: obj for obj, name in NUMPY_FLOAT64_GLOBALS}
    assert objects["numpy.core.multiarray.scalar"] is objects["numpy._core.multiarray.scalar"]
    assert objects["numpy.core.multiarray.scalar"] is _SCALAR
    assert objects["numpy.dtypes.Float64DType"] is type(np.dtype(np.float64))


# ---- what stays refused --------------------------------------------------------------------

class _ExecPayload:
    """Unpickling runs `exec`, which writes a sentinel file."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.sentinel!r}, 'w').write('pwned')",))


class _SystemPayload:
    """Unpickling runs `os.system("touch sentinel")`."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch '{self.sentinel}'",))


@pytest.mark.parametrize("serialisation", SERIALISATIONS)
@pytest.mark.parametrize("payload, needles", [
    (_ExecPayload, ("Unsupported global", "GLOBAL exec")),
    # torch blocks os/posix modules outright; the message keeps that reason
    (_SystemPayload, ("unsupported GLOBAL", f"{os.system.__module__}.system", "blocked")),
])
def test_malicious_checkpoint_is_refused_and_payload_does_not_run(
    tmp_path: Path, serialisation: str, payload: type, needles: tuple[str, ...]
) -> None:
    sentinel = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    model = create_model("deeplabv3_small", **SMALL)
    state = {("classifier." + k if k.startswith("classifier.") else k): v
             for k, v in model.state_dict().items()}
    _save({"cur_itrs": 30000, "model_state": state, "best_score": payload(sentinel)},
          path, serialisation)
    _assert_refused(path, *needles)
    with pytest.raises(ChanposError, match="weights_only load refused it"):
        load_segmentation_checkpoint(path, model="deeplabv3_small", width=4, head_channels=8)
    assert not sentinel.exists()
    # the payload is real: an unrestricted load would have run it
    torch.load(path, weights_only=False)
    assert sentinel.exists()


@pytest.mark.parametrize("serialisation", SERIALISATIONS)
@pytest.mark.parametrize("value, needles", [
    (np.arange(3, dtype=np.int64), ("Unsupported global", "multiarray._reconstruct")),
    (np.zeros(2, dtype=np.float64), ("Unsupported global", "multiarray._reconstruct")),
    (np.int64(3), ("Int64DType",)),
], ids=["int64-array", "float64-array", "int64-scalar"])
def test_numpy_objects_off_the_allow_list_are_refused(
    tmp_path: Path, serialisation: str, value: Any, needles: tuple[str, ...]
) -> None:
    path = _save({"cur_itrs": 1, "best_score": BEST_SCORE, "extra": value},
                 tmp_path / "numpy.pth", serialisation, pickle_module=_numpy1_pickle_module())
    _assert_refused(path, *needles)


@pytest.mark.slow
def test_paper_attack_runs_on_the_authors_checkpoint_and_a_cityscapes_folder(
        tmp_path: Path) -> None:
    """`chanpos attack --profile paper --checkpoint <their file> --data-root <Cityscapes>`."""
    import json

    from torchvision.io import write_png
    from typer.testing import CliRunner

    from chanpos.cli import app

    root = tmp_path / "cityscapes"
    for split, cities in (("val", ("aachen", "bonn", "koeln")), ("train", ("jena",))):
        for i, city in enumerate(cities):  # torchvision's Cityscapes layout
            (root / "leftImg8bit" / split / city).mkdir(parents=True)
            (root / "gtFine" / split / city).mkdir(parents=True)
            stem = f"{city}_000000_{i:06d}"
            write_png(torch.randint(0, 256, (3, 64, 128), dtype=torch.uint8),
                      str(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png"))
            ids = torch.tensor([7, 26, 24, 8], dtype=torch.uint8).repeat_interleave(32)[None]
            write_png(ids.expand(64, 128)[None].contiguous(),
                      str(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"))
    torch.manual_seed(0)
    model = create_model("deeplabv3_resnet50", num_classes=19)
    path = tmp_path / "best_deeplabv3_resnet50_cityscapes_os16.pth"
    write_authors_checkpoint(model, path, serialisation="zip")
    res = CliRunner().invoke(app, [
        "attack", "--profile", "paper", "--checkpoint", str(path), "--data-root", str(root),
        "--ns", "0,10,100", "--region-ns", "100", "--random-draws", "2", "--examples", "0",
        "--val-samples", "1", "--importance-samples", "all", "--no-progress",
        "--out", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    doc = json.loads(next((tmp_path / "runs").glob("attack-*/results.json")).read_text())
    assert doc["num_channels"] == 2048 and doc["model"]["name"] == "deeplabv3_resnet50"
    (attacked,) = doc["models"]
    assert attacked["seconds"]["train"] == 0 and len(attacked["ranking"]["absolute"]) == 2048
    assert {v["replicate"] for v in doc["verdicts"]} == {"random channel draw"}
