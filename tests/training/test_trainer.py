from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from chanpos.models import create_model
from chanpos.training.callbacks import SafeCheckpointIO
from chanpos.training.evaluate import predict
from chanpos.training.options import TrainerOptions
from chanpos.training.sampling import train_loader
from chanpos.training.systems import ClassifierSystem
from chanpos.training.trainer import fit, last_checkpoint

OPTIONS = TrainerOptions(accelerator="cpu", progress=False, seed=3)


class _Noisy(nn.Module):
    """Conv + BN + dropout + GAP + Linear: training draws random numbers (dropout masks)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.drop(torch.relu(self.bn(self.conv(x)))).mean(dim=(2, 3))
        return self.fc(z)


def _jitter(batch, train: bool):
    """A batch transform that draws random numbers in training (noise on the images)."""
    x, y = batch[0], batch[1]
    return (x + 0.1 * torch.rand_like(x), y) if train else (x, y)


def _system() -> ClassifierSystem:
    torch.manual_seed(123)  # the same initial weights for every run
    return ClassifierSystem(_Noisy(), num_classes=3, batch_transform=_jitter)


def _loader(shuffle: bool = True) -> DataLoader:
    """The training loader chanpos uses (order fixed by seed and epoch), or a plain one."""
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(24, 3, 6, 6, generator=g),
                         torch.randint(0, 3, (24,), generator=g))
    if shuffle:
        return train_loader(data, batch_size=8, seed=OPTIONS.seed)
    return DataLoader(data, batch_size=8)


def _fit(root: Path, epochs: int) -> ClassifierSystem:
    system = _system()
    fit(system, _loader(), max_epochs=epochs, options=OPTIONS, root_dir=root, bn_batches=2)
    return system


def _ckpt(root: Path) -> dict:
    return torch.load(last_checkpoint(root), map_location="cpu", weights_only=True)


def _epochs_in(ckpt: dict) -> int:
    """Epochs a checkpoint has trained (Lightning's "epoch" field is the 0-based current epoch
    when saved at an epoch's end but the epoch count when saved in on_train_end)."""
    return ckpt["loops"]["fit_loop"]["epoch_progress"]["total"]["processed"]


def test_runs_of_one_and_two_epochs_each_leave_last_ckpt_of_their_final_epoch(tmp_path: Path) -> None:
    _fit(tmp_path / "one", 1)
    _fit(tmp_path / "two", 2)
    assert last_checkpoint(tmp_path / "one") == tmp_path / "one" / "checkpoints" / "last.ckpt"
    one, two = _ckpt(tmp_path / "one"), _ckpt(tmp_path / "two")
    assert one["epoch"] in (0, 1) and two["epoch"] in (1, 2) and two["epoch"] == one["epoch"] + 1
    assert (_epochs_in(one), one["global_step"]) == (1, 3)  # 3 batches an epoch
    assert (_epochs_in(two), two["global_step"]) == (2, 6)
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoints").iterdir()) == ["last.ckpt"]


def test_last_ckpt_is_saved_at_the_end_of_every_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[tuple[str, int]] = []
    original = SafeCheckpointIO.save_checkpoint

    def spy(self, checkpoint, path, storage_options=None):
        saved.append((Path(path).name, checkpoint["global_step"]))
        return original(self, checkpoint, path, storage_options)

    monkeypatch.setattr(SafeCheckpointIO, "save_checkpoint", spy)
    _fit(tmp_path, 2)
    assert saved == [("last.ckpt", 3), ("last.ckpt", 6)]


def _assert_same_weights(got: ClassifierSystem, want: ClassifierSystem) -> None:
    got_sd, want_sd = got.model.state_dict(), want.model.state_dict()
    assert got_sd.keys() == want_sd.keys()
    for name, tensor in want_sd.items():
        assert torch.equal(got_sd[name], tensor), name


@pytest.mark.slow
def test_interrupted_and_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    first = _fit(tmp_path / "a", 1)  # "interrupted" after epoch 1
    resumed = _fit(tmp_path / "a", 3)  # a fresh system resumes from a/checkpoints/last.ckpt
    straight = _fit(tmp_path / "b", 3)
    assert _epochs_in(_ckpt(tmp_path / "a")) == 3
    # the run really trained on after the resume: epoch 1's weights are not the final ones
    assert not torch.equal(first.model.conv.weight, straight.model.conv.weight)
    _assert_same_weights(resumed, straight)


class _Plain(nn.Module):
    """Conv + BN + GAP + Linear without any randomness in training."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


@pytest.mark.slow
def test_resume_restores_weights_and_optimizer_state_exactly(tmp_path: Path) -> None:
    def run(root: Path, epochs: int) -> ClassifierSystem:
        torch.manual_seed(123)
        system = ClassifierSystem(_Plain(), num_classes=3)
        fit(system, _loader(shuffle=False), max_epochs=epochs, options=OPTIONS, root_dir=root,
            bn_batches=2)
        return system

    first = run(tmp_path / "a", 1)
    resumed = run(tmp_path / "a", 3)
    straight = run(tmp_path / "b", 3)
    assert _ckpt(tmp_path / "a")["global_step"] == 9
    assert not torch.equal(first.model.conv.weight, straight.model.conv.weight)
    _assert_same_weights(resumed, straight)


@pytest.mark.slow
def test_runs_with_different_seeds_end_with_different_weights(tmp_path: Path) -> None:
    a = _fit(tmp_path / "a", 1)
    system = _system()
    fit(system, _loader(), max_epochs=1, options=TrainerOptions(accelerator="cpu", progress=False, seed=4),
        root_dir=tmp_path / "b", bn_batches=2)
    assert torch.equal(_system().model.conv.weight, _system().model.conv.weight)  # same start
    assert not torch.equal(a.model.conv.weight, system.model.conv.weight)


class _Flag(nn.Module):
    """Predicts the class written in pixel (0, 0, 0); records whether it ran in eval mode."""

    def __init__(self) -> None:
        super().__init__()
        self.modes: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return nn.functional.one_hot(x[:, 0, 0, 0].long(), 4).float()


def test_predict_returns_predictions_and_targets_for_every_sample_in_order() -> None:
    classes = torch.tensor([3, 1, 0, 2, 2, 1, 0])
    x = classes.float().view(7, 1, 1, 1).expand(7, 3, 2, 2)
    targets = torch.tensor([3, 0, 0, 2, 1, 1, 2])
    batches = [(x[:3], targets[:3]), (x[3:6], targets[3:6]), (x[6:], targets[6:])]
    model = _Flag().train()
    preds, ys = predict(model, batches, lambda b: (b[0], b[1]), device=torch.device("cpu"))
    assert preds.tolist() == classes.tolist() and ys.tolist() == targets.tolist()
    assert model.modes == [False, False, False] and model.training  # eval inside, mode restored


def test_predict_is_repeatable_for_a_model_that_draws_random_numbers_in_eval() -> None:
    torch.manual_seed(0)
    model = create_model("permutenet", num_classes=4, width=4)
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 3, 16, 16, generator=g), torch.randint(0, 4, (8,), generator=g))
               for _ in range(3)]
    model.eval()
    with torch.no_grad():  # PermuteNet really is random in eval: two forwards differ
        assert not torch.equal(model(batches[0][0]), model(batches[0][0]))

    def run(seed: int = 5) -> torch.Tensor:
        return predict(model, batches, lambda b: (b[0], b[1]), device=torch.device("cpu"), seed=seed)[0]

    torch.manual_seed(1)
    first = run()
    torch.manual_seed(2)  # the global RNG state before the call does not matter
    second = run()
    assert first.shape == (24,) and torch.equal(first, second)
    assert not torch.equal(first, run(seed=6))  # the permutations do change the predictions


def test_window_gain_is_the_theil_sen_rise_across_the_window() -> None:
    from chanpos.training.callbacks import window_gain

    assert window_gain([1.0, 2.0, 3.0, 4.0]) == pytest.approx(3.0)   # slope 1 over 3 steps
    assert window_gain([5.0, 5.0, 5.0]) == 0.0
    # pairwise slopes 10, 0, 10/3, -10, 0, 10 -> median (0 + 10/3) / 2, times 3 steps
    assert window_gain([0.0, 10.0, 0.0, 10.0]) == pytest.approx(5.0)
    # one collapsed epoch at the end does not flatten a climbing curve (least squares would)
    assert window_gain([50.0, 52.0, 54.0, 56.0, 58.0, 30.0]) == pytest.approx(10.0)
    assert window_gain([7.0]) == 0.0


class _Scripted:
    """A stand-in trainer whose validation metric follows a script."""

    def __init__(self, values: list[float], lr: float = 1.0) -> None:
        self.values, self.sanity_checking, self.should_stop = list(values), False, False
        self.optimizers = [torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)]
        self.callback_metrics: dict[str, torch.Tensor] = {}

    def epoch(self, stopper) -> None:
        self.callback_metrics["val_metric"] = torch.tensor(self.values.pop(0))
        stopper.on_validation_end(self, None)


def _run_rule(values: list[float], **rule) -> tuple[object, _Scripted, int]:
    from chanpos.training.callbacks import PlateauStop
    from chanpos.training.options import Stopping

    stopper, trainer = PlateauStop(Stopping(**rule)), _Scripted(values)
    epochs = 0
    while trainer.values and not trainer.should_stop:
        trainer.epoch(stopper)
        epochs += 1
    return stopper, trainer, epochs


def test_plateau_rule_stops_a_flat_curve_and_not_a_noisy_climbing_one() -> None:
    flat = [50.0, 51.0, 49.0, 50.5, 49.5, 50.0, 50.2, 49.8]
    stopper, trainer, epochs = _run_rule(flat, patience=4, min_delta=1.0, continuation=0.0)
    assert trainer.should_stop and stopper.plateaued and epochs == 4
    # with the continuation the candidate at epoch 4 is trained on for 4 epochs, then stops
    stopper, trainer, epochs = _run_rule(flat, patience=4, min_delta=1.0, continuation=0.5)
    assert trainer.should_stop and stopper.plateaued and epochs == 8
    assert stopper.rule.fired == [4] and abs(stopper.rule.gains[0]) <= 1.0
    climbing = [10 + 2 * i + (6 if i % 3 == 0 else -4) for i in range(30)]  # noisy, +2/epoch
    stopper, trainer, epochs = _run_rule(climbing, patience=6, min_delta=1.0)
    assert not trainer.should_stop and not stopper.plateaued and epochs == 30
    assert stopper.history == [round(float(v), 4) for v in climbing]


def test_lr_drops_lower_the_learning_rate_at_the_first_plateaus_then_stop() -> None:
    flat = [50.0] * 20
    stopper, trainer, epochs = _run_rule(flat, patience=3, min_delta=0.5, lr_drops=2,
                                         lr_factor=0.1, continuation=0.0)
    assert epochs == 9 and stopper.rule.drops == 2 and stopper.plateaued  # 3 windows of 3
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.01)
    stopper, trainer, epochs = _run_rule(flat, patience=3, min_delta=0.5, min_epochs=7,
                                         continuation=0.0)
    assert epochs == 7  # never before min_epochs


def _plateau_fit(root: Path, max_epochs: int) -> tuple[ClassifierSystem, object]:
    from chanpos.training.options import Stopping

    system = _system()
    val = DataLoader(TensorDataset(torch.randn(16, 3, 6, 6), torch.randint(0, 3, (16,))),
                     batch_size=8)
    result = fit(system, _loader(), max_epochs=max_epochs, options=OPTIONS, root_dir=root,
                 val_loader=val, stopping=Stopping(patience=2, min_delta=100.0), bn_batches=2)
    return system, result


@pytest.mark.slow
def test_a_run_stops_at_its_plateau_and_a_resume_after_it_only_reruns_what_follows(
        tmp_path: Path) -> None:
    first, result = _plateau_fit(tmp_path / "a", 10)
    # fires at epoch 2, trains on max(2, ceil(0.5 x 2)) = 2 epochs, confirms
    assert result.plateaued and result.epochs == 4 == len(result.history)
    assert result.fired == (2,) and len(result.gains) == 1
    assert _epochs_in(_ckpt(tmp_path / "a")) == 4
    # the process "died" after the last checkpoint: training is not redone, BN re-estimation
    # and everything after it run again and give the same weights
    again, again_result = _plateau_fit(tmp_path / "a", 10)
    assert replace(again_result, seconds=0.0) == replace(result, seconds=0.0)
    _assert_same_weights(again, first)
