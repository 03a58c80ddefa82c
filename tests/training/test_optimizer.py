import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from chanpos.errors import ChanposError
from chanpos.training.options import OptimConfig
from chanpos.training.systems import ClassifierSystem, build_optimizer


def _params() -> list[nn.Parameter]:
    return list(nn.Linear(3, 2).parameters())


def test_default_is_the_papers_adam_without_a_scheduler() -> None:
    opt, sched = build_optimizer(_params(), OptimConfig(), total_steps=10)
    assert type(opt) is torch.optim.Adam and sched is None
    group = opt.param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (1e-3, (0.5, 0.999), 0.0)


def test_adam_gets_the_configured_lr_betas_and_weight_decay() -> None:
    cfg = OptimConfig(optimizer="adam", lr=0.02, betas=(0.8, 0.95), weight_decay=1e-4)
    opt, _ = build_optimizer(_params(), cfg, total_steps=10)
    group = opt.param_groups[0]
    assert type(opt) is torch.optim.Adam
    assert (group["lr"], group["betas"], group["weight_decay"]) == (0.02, (0.8, 0.95), 1e-4)


def test_adamw_gets_the_configured_settings() -> None:
    cfg = OptimConfig(optimizer="adamw", lr=0.005, betas=(0.9, 0.99), weight_decay=0.05)
    opt, _ = build_optimizer(_params(), cfg, total_steps=10)
    group = opt.param_groups[0]
    assert type(opt) is torch.optim.AdamW
    assert (group["lr"], group["betas"], group["weight_decay"]) == (0.005, (0.9, 0.99), 0.05)


def test_sgd_uses_nesterov_momentum() -> None:
    cfg = OptimConfig(optimizer="sgd", lr=0.1, momentum=0.8, weight_decay=5e-4)
    opt, _ = build_optimizer(_params(), cfg, total_steps=10)
    group = opt.param_groups[0]
    assert type(opt) is torch.optim.SGD
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.1, 0.8, True, 5e-4)


def test_every_parameter_is_optimised() -> None:
    params = _params()
    opt, _ = build_optimizer(params, OptimConfig(), total_steps=1)
    assert [p for g in opt.param_groups for p in g["params"]] == params


def test_cosine_anneals_the_lr_to_zero_over_the_total_steps() -> None:
    param = nn.Parameter(torch.zeros(1))
    opt, sched = build_optimizer([param], OptimConfig(lr=0.1, schedule="cosine"), total_steps=8)
    assert isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR) and sched.T_max == 8
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(8):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(0.1)
    assert lrs[4] == pytest.approx(0.05)  # half way: (1 + cos(pi / 2)) / 2
    assert lrs[2] == pytest.approx(0.1 * (1 + math.cos(math.pi * 2 / 8)) / 2)
    assert lrs[8] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))


def test_cosine_with_no_steps_still_has_a_positive_period() -> None:
    _, sched = build_optimizer(_params(), OptimConfig(schedule="cosine"), total_steps=0)
    assert sched.T_max == 1


def test_unknown_optimizer_is_a_user_error() -> None:
    with pytest.raises(ChanposError, match="unknown optimizer 'rmsprop'; use adam, adamw or sgd"):
        build_optimizer(_params(), OptimConfig(optimizer="rmsprop"), total_steps=10)


def test_unknown_schedule_is_a_user_error() -> None:
    with pytest.raises(ChanposError, match="unknown schedule 'step'; use constant or cosine"):
        build_optimizer(_params(), OptimConfig(schedule="step"), total_steps=10)


def test_system_steps_the_cosine_schedule_per_step_over_the_runs_total_steps() -> None:
    system = ClassifierSystem(nn.Linear(3, 2), num_classes=2,
                              optim=OptimConfig(optimizer="sgd", schedule="cosine"))
    system._trainer = SimpleNamespace(estimated_stepping_batches=36)
    config = system.configure_optimizers()
    assert type(config["optimizer"]) is torch.optim.SGD
    assert config["lr_scheduler"]["interval"] == "step"
    assert config["lr_scheduler"]["scheduler"].T_max == 36
    system._trainer = None
    assert isinstance(ClassifierSystem(nn.Linear(3, 2), num_classes=2).configure_optimizers(),
                      torch.optim.Adam)


def test_adam_on_cpu_tensors_uses_multi_tensor_ops_with_the_same_update() -> None:
    from chanpos.training.systems import foreach_ok

    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours, _ = build_optimizer(a.parameters(), OptimConfig(lr=0.01), total_steps=1)
    plain = torch.optim.Adam(b.parameters(), lr=0.01, betas=(0.5, 0.999))
    assert ours.param_groups[0]["foreach"] and not plain.param_groups[0]["foreach"]
    x = torch.randn(16, 5)
    for _ in range(5):
        for net, opt in ((a, ours), (b, plain)):
            opt.zero_grad()
            net(x).square().sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    assert not foreach_ok([torch.zeros(2, dtype=torch.long)]) and not foreach_ok([])
