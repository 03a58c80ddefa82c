import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chanpos.errors import ChanposError
from chanpos.ops.shifts import translate
from chanpos.training.augshift import AugShiftSystem
from chanpos.training.losses import AugShiftLoss

# training_step logs through self.log, which only warns when no Trainer is attached
pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")


class _Tiny(nn.Module):
    """encode: conv + BN + GAP -> (B, 4); classify: Linear -> (B, 3)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.encode(x))


def _recording(max_shift: int, lam: float = 3.0, mode: str = "zeros"):
    model = _Tiny()
    inputs: list[torch.Tensor] = []
    latents: list[torch.Tensor] = []
    encode = model.encode

    def spy(x: torch.Tensor) -> torch.Tensor:
        inputs.append(x.detach().clone())
        z = encode(x)
        latents.append(z)
        return z

    model.encode = spy
    system = AugShiftSystem(model, num_classes=3, lam=lam, max_shift=max_shift, shift_mode=mode)
    return system, model, inputs, latents


def _batch(b: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(b, 3, 8, 8, generator=g), torch.randint(0, 3, (b,), generator=g)


def _shift_of(view: torch.Tensor, image: torch.Tensor, max_shift: int, mode: str) -> list:
    """Every (dy, dx) within max_shift for which translate(image) == view."""
    return [(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)
            if torch.equal(translate(image[None], torch.tensor([[dy, dx]]), mode)[0], view)]


@pytest.mark.parametrize("mode", ["zeros", "circular"])
def test_training_step_encodes_two_different_shifted_views_as_one_batch(mode: str) -> None:
    system, _, inputs, _ = _recording(max_shift=2, mode=mode)
    x, y = _batch()
    system.training_step((x, y), 0)
    assert len(inputs) == 1 and inputs[0].shape == (12, 3, 8, 8)
    first, second = inputs[0][:6], inputs[0][6:]
    assert not torch.equal(first, second)
    for b in range(6):
        assert _shift_of(first[b], x[b], 2, mode), f"view 1 of image {b} is not a shift of it"
        assert _shift_of(second[b], x[b], 2, mode), f"view 2 of image {b} is not a shift of it"


def test_max_shift_zero_gives_two_identical_unshifted_views() -> None:
    system, _, inputs, _ = _recording(max_shift=0)
    x, y = _batch()
    system.training_step((x, y), 0)
    assert torch.equal(inputs[0][:6], x) and torch.equal(inputs[0][6:], x)


def test_training_loss_is_the_augshift_loss_of_the_recorded_latents() -> None:
    system, model, _, latents = _recording(max_shift=2, lam=3.0)
    x, y = _batch()
    loss = system.training_step((x, y), 0)
    z = latents[0].detach()
    z1, z2 = z[:6], z[6:]
    with torch.no_grad():
        l1, l2 = model.classify(z1), model.classify(z2)
    by_hand = F.cross_entropy(l1, y) + F.cross_entropy(l2, y) + 3.0 * ((z1 - z2) ** 2).mean()
    assert torch.allclose(loss.detach(), by_hand, rtol=1e-6, atol=1e-6)
    parts = AugShiftLoss(3.0)(z1, z2, l1, l2, y)
    assert torch.allclose(loss.detach(), parts.loss, rtol=1e-6, atol=1e-6)
    assert parts.mse > 0 and loss.requires_grad


def test_prepare_in_training_gives_one_shifted_view_and_in_eval_the_images() -> None:
    system, _, _, _ = _recording(max_shift=2)
    x, y = _batch()
    torch.manual_seed(4)
    shifted, ys = system.prepare((x, y), True)
    assert torch.equal(ys, y) and not torch.equal(shifted, x)
    assert all(_shift_of(shifted[b], x[b], 2, "zeros") for b in range(6))
    plain, _ = system.prepare((x, y), False)
    assert torch.equal(plain, x)


def test_model_without_encode_or_classify_is_a_value_error_naming_the_missing_part() -> None:
    with pytest.raises(ValueError, match=r"Linear has no encode\(\)"):
        AugShiftSystem(nn.Linear(3, 3), num_classes=3)

    class _EncodeOnly(nn.Module):
        def encode(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(ValueError, match=r"_EncodeOnly has no classify\(\)"):
        AugShiftSystem(_EncodeOnly(), num_classes=3)


def test_bad_shift_settings_are_user_errors() -> None:
    with pytest.raises(ChanposError, match="unknown shift mode"):
        AugShiftSystem(_Tiny(), num_classes=3, shift_mode="wrap")
    with pytest.raises(ChanposError, match="max shift must be"):
        AugShiftSystem(_Tiny(), num_classes=3, max_shift=-1)
