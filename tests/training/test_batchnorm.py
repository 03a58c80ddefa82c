import datetime
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from chanpos.training.batchnorm import recalibrate_batchnorm


def _model() -> nn.Sequential:
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=0.3))
    model[1].running_mean.fill_(5.0)  # stale statistics that must be discarded
    model[1].running_var.fill_(9.0)
    return model


def _batches(n: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 2, 5, 5, generator=g) * (i + 1) + i for i in range(n)]


def _by_hand(model: nn.Sequential, batches: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over batches of each batch's per-channel mean and unbiased variance of the conv output."""
    with torch.no_grad():
        feats = [model[0](x) for x in batches]
    means = torch.stack([f.mean(dim=(0, 2, 3)) for f in feats])
    variances = torch.stack([f.var(dim=(0, 2, 3), unbiased=True) for f in feats])
    return means.mean(0), variances.mean(0)


def test_running_stats_are_the_cumulative_mean_of_the_batch_statistics() -> None:
    model = _model()
    batches = _batches(3, seed=0)
    used = recalibrate_batchnorm(model, batches, num_batches=3)
    mean, var = _by_hand(model, batches)
    bn = model[1]
    assert used == 3 and int(bn.num_batches_tracked) == 3
    assert torch.allclose(bn.running_mean, mean, rtol=1e-5, atol=1e-6)
    assert torch.allclose(bn.running_var, var, rtol=1e-5, atol=1e-6)


def test_only_the_first_num_batches_are_used_and_the_rest_are_not_drawn() -> None:
    model = _model()
    batches = _batches(5, seed=1)
    drawn: list[int] = []

    def stream():
        for i, x in enumerate(batches):
            drawn.append(i)
            yield x

    assert recalibrate_batchnorm(model, stream(), num_batches=2) == 2
    assert drawn == [0, 1]
    mean, var = _by_hand(model, batches[:2])
    assert torch.allclose(model[1].running_mean, mean, rtol=1e-5, atol=1e-6)
    assert torch.allclose(model[1].running_var, var, rtol=1e-5, atol=1e-6)


def test_fewer_batches_than_asked_returns_the_number_used() -> None:
    model = _model()
    batches = _batches(2, seed=2)
    assert recalibrate_batchnorm(model, batches, num_batches=10) == 2
    mean, _ = _by_hand(model, batches)
    assert torch.allclose(model[1].running_mean, mean, rtol=1e-5, atol=1e-6)


def test_eval_and_train_mode_and_momenta_are_restored() -> None:
    for mode in (False, True):
        model = _model()
        model.add_module("bn2", nn.BatchNorm2d(3, momentum=None))
        model.train(mode)
        recalibrate_batchnorm(model, _batches(2, seed=3), num_batches=2)
        assert model.training is mode and all(m.training is mode for m in model.modules())
        assert model[1].momentum == 0.3 and model.bn2.momentum is None


def test_custom_forward_is_used_instead_of_the_model() -> None:
    model = _model()
    batches = _batches(2, seed=4)
    calls: list[torch.Tensor] = []

    def forward(x: torch.Tensor) -> torch.Tensor:
        calls.append(x)
        return model(2 * x)

    assert recalibrate_batchnorm(model, batches, num_batches=2, forward=forward) == 2
    assert len(calls) == 2
    mean, _ = _by_hand(model, [2 * x for x in batches])
    assert torch.allclose(model[1].running_mean, mean, rtol=1e-5, atol=1e-6)


def test_no_batchnorm_or_no_batches_requested_changes_nothing() -> None:
    plain = nn.Sequential(nn.Conv2d(2, 3, 3))
    assert recalibrate_batchnorm(plain, _batches(2, seed=5), num_batches=2) == 0
    model = _model()
    assert recalibrate_batchnorm(model, _batches(2, seed=5), num_batches=0) == 0
    assert torch.equal(model[1].running_mean, torch.full((3,), 5.0))
    assert torch.equal(model[1].running_var, torch.full((3,), 9.0))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        model = _model()
        used = recalibrate_batchnorm(model, _batches(3, seed=100 + rank), num_batches=3)
        torch.save({"used": used, "mean": model[1].running_mean.clone(),
                    "var": model[1].running_var.clone()}, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_ranks_end_with_the_average_of_their_own_estimates(tmp_path: Path) -> None:
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    alone = []
    for r in range(2):  # what each rank computes without a process group
        model = _model()
        recalibrate_batchnorm(model, _batches(3, seed=100 + r), num_batches=3)
        alone.append((model[1].running_mean.clone(), model[1].running_var.clone()))
    assert not torch.allclose(alone[0][0], alone[1][0])  # the ranks really saw different data
    want_mean = (alone[0][0] + alone[1][0]) / 2
    want_var = (alone[0][1] + alone[1][1]) / 2
    assert [r["used"] for r in ranks] == [3, 3]
    assert torch.equal(ranks[0]["mean"], ranks[1]["mean"])
    assert torch.equal(ranks[0]["var"], ranks[1]["var"])
    assert torch.allclose(ranks[0]["mean"], want_mean, rtol=1e-6, atol=1e-6)
    assert torch.allclose(ranks[0]["var"], want_var, rtol=1e-6, atol=1e-6)


def test_a_submodule_left_in_eval_keeps_its_own_mode() -> None:
    model = _model().train()
    model.add_module("drop", nn.Dropout(0.5))
    model.drop.eval()  # e.g. a frozen part inside a model in train mode
    recalibrate_batchnorm(model, _batches(2, seed=3), num_batches=2)
    assert model.training and not model.drop.training
