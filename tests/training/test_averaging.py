"""The moving average of the weights: its arithmetic, that validation and the kept model use
it, and that a resumed run ends with the average of an uninterrupted one."""

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from chanpos.training.averaging import WeightAverage
from chanpos.training.options import OptimConfig, TrainerOptions
from chanpos.training.sampling import train_loader
from chanpos.training.systems import ClassifierSystem
from chanpos.training.trainer import fit

OPTIONS = TrainerOptions(accelerator="cpu", progress=False, seed=5)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))


def test_the_average_is_the_decay_weighted_mean_of_the_weights_it_was_shown() -> None:
    net = _net()
    avg = WeightAverage(net, decay=0.75)
    w = net[0].weight
    for step in range(3):
        with torch.no_grad():
            w.copy_(torch.full_like(w, float(step + 1)))
            net[1].num_batches_tracked.fill_(10 * (step + 1))
        avg.update(net)
    # first update copies (1), then 0.75 * 1 + 0.25 * 2 = 1.25, then 0.75 * 1.25 + 0.25 * 3
    assert torch.allclose(avg.module[0].weight, torch.full_like(w, 1.6875))
    assert int(avg.module[1].num_batches_tracked) == 30  # integer buffers are copied
    assert int(avg.updates) == 3
    assert not any(p.requires_grad for p in avg.module.parameters())
    other = _net()
    avg.copy_to(other)
    assert torch.equal(other[0].weight, avg.module[0].weight)


def test_a_decay_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(_net(), decay=1.0)


def _system(average: float) -> ClassifierSystem:
    return ClassifierSystem(_net(), num_classes=3, optim=OptimConfig(lr=0.05, average=average))


def _loader():
    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(32, 3, 6, 6, generator=g),
                         torch.randint(0, 3, (32,), generator=g))
    return train_loader(data, batch_size=8, seed=OPTIONS.seed)


def test_validation_scores_the_average_and_training_keeps_it_as_the_model(tmp_path: Path) -> None:
    system = _system(0.9)
    assert system.evaluated is system.averaged.module
    fit(system, _loader(), max_epochs=2, options=OPTIONS, root_dir=tmp_path, bn_batches=0)
    assert int(system.averaged.updates) == 8  # 4 steps an epoch
    for name, tensor in system.averaged.module.state_dict().items():
        assert torch.equal(system.model.state_dict()[name], tensor), name
    plain = _system(0.0)
    assert plain.averaged is None and plain.evaluated is plain.model
    fit(plain, _loader(), max_epochs=2, options=OPTIONS, root_dir=tmp_path / "plain",
        bn_batches=0)
    # the average is not the last step's weights
    assert not torch.equal(plain.model[0].weight, system.model[0].weight)


@pytest.mark.slow
def test_a_resumed_run_ends_with_the_average_of_an_uninterrupted_one(tmp_path: Path) -> None:
    fit(_system(0.9), _loader(), max_epochs=1, options=OPTIONS, root_dir=tmp_path / "a",
        bn_batches=0)
    resumed = _system(0.9)
    fit(resumed, _loader(), max_epochs=3, options=OPTIONS, root_dir=tmp_path / "a",
        bn_batches=0)
    straight = _system(0.9)
    fit(straight, _loader(), max_epochs=3, options=OPTIONS, root_dir=tmp_path / "b",
        bn_batches=0)
    assert int(resumed.averaged.updates) == int(straight.averaged.updates) == 12
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name


def test_the_average_is_validated_with_batchnorm_statistics_of_its_own(tmp_path: Path) -> None:
    system = ClassifierSystem(_net(), num_classes=3, optim=OptimConfig(lr=0.05, average=0.9),
                              average_bn_batches=2)
    g = torch.Generator().manual_seed(2)
    val = torch.utils.data.DataLoader(TensorDataset(torch.randn(8, 3, 6, 6, generator=g),
                                                    torch.randint(0, 3, (8,), generator=g)),
                                      batch_size=8)
    fit(system, _loader(), max_epochs=2, options=OPTIONS, root_dir=tmp_path, val_loader=val,
        bn_batches=0)
    bn = system.averaged.module[1]
    # re-estimated from 2 training batches at the last validation, not the live model's 8 steps
    assert int(bn.num_batches_tracked) == 2
    assert int(system.model[1].num_batches_tracked) == 2  # and kept as the model's
    live = system.averaged.module[1].running_var
    assert not torch.allclose(live, torch.ones_like(live))
