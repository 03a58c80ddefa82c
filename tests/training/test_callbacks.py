import os
import pickle
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from chanpos.errors import ChanposError
from chanpos.training.callbacks import EpochSeed, SafeCheckpointIO
from chanpos.training.seeding import BN_PHASE, EVAL_PHASE, phase_seed, reseed


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _checkpoint() -> dict:
    return {"epoch": 2, "global_step": 7, "state_dict": {"w": torch.arange(6.0).view(2, 3)},
            "optimizer_states": [{"state": {0: {"exp_avg": torch.ones(3)}}, "param_groups": []}]}


def test_save_checkpoint_writes_the_file_without_leaving_a_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"  # the folder does not exist yet
    SafeCheckpointIO().save_checkpoint(_checkpoint(), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]
    loaded = torch.load(path, weights_only=True)
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(6.0).view(2, 3))


def test_failed_save_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    io = SafeCheckpointIO()
    io.save_checkpoint(_checkpoint(), path)
    before = path.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        io.save_checkpoint({"epoch": 3, "bad": lambda: 0}, path)  # lambdas cannot be pickled
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_saved_checkpoint_gets_the_umask_permissions(tmp_path: Path, umask_022) -> None:
    path = tmp_path / "last.ckpt"
    SafeCheckpointIO().save_checkpoint(_checkpoint(), path)
    assert path.stat().st_mode & 0o777 == 0o644


def test_load_checkpoint_reads_a_checkpoint_with_tensors(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save(_checkpoint(), path)
    loaded = SafeCheckpointIO().load_checkpoint(path)
    assert loaded["epoch"] == 2 and loaded["global_step"] == 7
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(6.0).view(2, 3))
    assert torch.equal(loaded["optimizer_states"][0]["state"][0]["exp_avg"], torch.ones(3))
    assert loaded["state_dict"]["w"].device == torch.device("cpu")


class _RunsCode:
    """Unpickling this creates `sentinel` (a stand-in for arbitrary code execution)."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def _crafted(tmp_path: Path) -> tuple[Path, Path]:
    path, sentinel = tmp_path / "checkpoints" / "last.ckpt", tmp_path / "pwned"
    path.parent.mkdir()
    torch.save({"epoch": 1, "state_dict": {}, "payload": _RunsCode(sentinel)}, path)
    return path, sentinel


def test_the_crafted_checkpoint_really_runs_code_when_fully_unpickled(tmp_path: Path) -> None:
    path, sentinel = _crafted(tmp_path)
    loaded = torch.load(path, weights_only=False)
    loaded["payload"].close()
    assert sentinel.exists()


@pytest.mark.parametrize("weights_only", [None, True, False])
def test_load_checkpoint_refuses_a_pickle_that_would_run_code(
    tmp_path: Path, weights_only: bool | None
) -> None:
    path, sentinel = _crafted(tmp_path)
    with pytest.raises(ChanposError) as info:
        SafeCheckpointIO().load_checkpoint(path, weights_only=weights_only)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "not a loadable training checkpoint" in message
    assert not sentinel.exists()


def test_load_checkpoint_of_a_truncated_file_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    torch.save(_checkpoint(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ChanposError) as info:
        SafeCheckpointIO().load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def _draws_after_epoch_start(seed: int, epoch: int) -> tuple[torch.Tensor, np.ndarray, float]:
    torch.rand(17)  # disturb every generator first: the result must not depend on it
    np.random.rand(5)
    random.random()
    EpochSeed(seed).on_train_epoch_start(SimpleNamespace(current_epoch=epoch), None)
    return torch.rand(4), np.random.rand(2), random.random()


def test_epoch_seed_makes_the_draws_depend_only_on_seed_and_epoch() -> None:
    torch.manual_seed(1)
    a = _draws_after_epoch_start(3, 2)
    torch.manual_seed(99)
    b = _draws_after_epoch_start(3, 2)
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    other_epoch = _draws_after_epoch_start(3, 1)
    other_seed = _draws_after_epoch_start(4, 2)
    assert not torch.equal(a[0], other_epoch[0]) and not torch.equal(a[0], other_seed[0])


def test_epoch_seed_uses_phase_seed_of_the_epoch() -> None:
    EpochSeed(5).on_train_epoch_start(SimpleNamespace(current_epoch=3), None)
    got = torch.rand(3)
    torch.manual_seed(phase_seed(5, 3))
    assert torch.equal(got, torch.rand(3))
    reseed(5, 3)
    assert torch.equal(got, torch.rand(3))


def test_phase_seed_differs_across_phases_and_seeds() -> None:
    phases = [EVAL_PHASE, BN_PHASE, *range(50)]
    seeds = [0, 1, 2, 17, 12345]
    values = [phase_seed(s, p) for s in seeds for p in phases]
    assert len(set(values)) == len(values)


@pytest.mark.parametrize("seed", [0, 1, -1, -(2**40), 2**31 - 2, 2**31 - 1, 2**31, 2**63 - 1])
def test_phase_seed_stays_a_31_bit_seed(seed: int) -> None:
    for phase in (EVAL_PHASE, BN_PHASE, 0, 1, 10**6):
        value = phase_seed(seed, phase)
        assert isinstance(value, int) and 0 <= value <= 2**31 - 1
