import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chanpos.errors import ChanposError
from chanpos.models import create_model
from chanpos.probes import (
    AugShiftLoss,
    draw_shifts,
    prediction_agreement,
    random_shift,
    shift_consistency,
    translate,
)


def test_random_shift_with_max_shift_zero_is_the_identity() -> None:
    x = torch.randn(5, 3, 8, 8)
    for mode in ("zeros", "reflect", "circular"):
        assert torch.equal(random_shift(x, 0, mode), x)


def test_circular_shift_is_an_exact_roll_per_image() -> None:
    x = torch.randn(6, 2, 7, 9)
    shifts = torch.tensor([[0, 0], [1, -2], [-3, 3], [2, 2], [-1, 0], [3, -3]])
    out = translate(x, shifts, "circular")
    for b, (dy, dx) in enumerate(shifts.tolist()):
        assert torch.equal(out[b], torch.roll(x[b], shifts=(dy, dx), dims=(-2, -1)))


def test_random_circular_shift_is_a_roll_within_max_shift() -> None:
    x = torch.randn(16, 3, 10, 10)
    out = random_shift(x, 2, "circular", generator=torch.Generator().manual_seed(1))
    rolls = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    found = []
    for b in range(16):
        hits = [s for s in rolls if torch.equal(out[b], torch.roll(x[b], s, dims=(-2, -1)))]
        assert hits, f"image {b} is not a roll by at most 2 px"
        found.append(hits[0])
    assert len(set(found)) > 1  # one offset per image, not one per batch


def test_zero_shift_moves_content_and_fills_zeros() -> None:
    x = torch.arange(1, 17, dtype=torch.float32).view(1, 1, 4, 4)
    out = translate(x, torch.tensor([[1, -2]]), "zeros")  # down 1, left 2
    expected = torch.tensor([[0, 0, 0, 0], [3, 4, 0, 0], [7, 8, 0, 0], [11, 12, 0, 0]],
                            dtype=torch.float32)
    assert torch.equal(out[0, 0], expected)
    reflect = translate(x, torch.tensor([[0, 1]]), "reflect")
    assert torch.equal(reflect[0, 0, :, 0], x[0, 0, :, 1])  # reflected column
    assert torch.equal(reflect[0, 0, :, 1:], x[0, 0, :, :3])


def test_random_shift_is_repeatable_and_in_range() -> None:
    x = torch.randn(4, 3, 8, 8)
    a = random_shift(x, 3, generator=torch.Generator().manual_seed(5))
    b = random_shift(x, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    s = draw_shifts(1000, 3, generator=torch.Generator().manual_seed(0))
    assert s.min() == -3 and s.max() == 3 and s.shape == (1000, 2)


def test_bad_shift_arguments_are_user_errors() -> None:
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ChanposError, match="max shift must be"):
        random_shift(x, -1)
    with pytest.raises(ChanposError, match="unknown shift mode 'wrap'"):
        random_shift(x, 1, "wrap")
    with pytest.raises(ChanposError, match="too large"):
        random_shift(x, 8, "reflect")
    with pytest.raises(ChanposError, match="lambda must be >= 0"):
        AugShiftLoss(-0.5)


def test_augshift_loss_equals_the_formula() -> None:
    z1 = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    z2 = torch.tensor([[1.5, 2.0], [0.0, 1.0]])
    l1 = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    l2 = torch.tensor([[0.0, 1.0, 0.0], [1.0, 2.0, 3.0]])
    y = torch.tensor([0, 2])
    out = AugShiftLoss(lam=10.0)(z1, z2, l1, l2, y)
    # by hand: MSE = (0.25 + 0 + 0 + 4) / 4; CE = mean of -log softmax at the target
    ce1 = (-(2 - torch.log(torch.exp(torch.tensor(2.0)) + 1 + torch.exp(torch.tensor(-1.0))))
           + torch.log(torch.tensor(3.0))) / 2
    ce2 = (torch.log(2 + torch.exp(torch.tensor(1.0)))
           + -(3 - torch.log(torch.exp(torch.tensor([1.0, 2.0, 3.0])).sum()))) / 2
    assert torch.isclose(out.mse, torch.tensor(4.25 / 4))
    assert torch.isclose(out.ce1, ce1) and torch.isclose(out.ce2, ce2)
    assert torch.isclose(out.loss, ce1 + ce2 + 10.0 * torch.tensor(4.25 / 4))


def test_augshift_mse_is_zero_for_identical_views() -> None:
    model = create_model("classifier", num_outputs=4, width=4).eval()
    x = torch.randn(3, 3, 32, 32)
    y = torch.tensor([0, 1, 3])
    parts, logits = AugShiftLoss(5.0).from_model(model.encode, model.classify, x, x, y)
    assert parts.mse == 0
    assert torch.allclose(parts.loss, 2 * F.cross_entropy(model(x), y), atol=1e-6)
    assert torch.allclose(logits, model(x), atol=1e-6)


class _Constant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([0.0, 1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(x.shape[0], -1)


def test_consistency_is_100_for_a_model_that_ignores_its_input() -> None:
    loader = [(torch.randn(8, 3, 16, 16), torch.tensor([1, 1, 1, 1, 0, 0, 2, 2]))]
    r = shift_consistency(_Constant(), loader, max_shift=4, mode="zeros", pairs=3)
    assert r["consistency_pct"] == 100.0 and r["top1_pct"] == 50.0
    assert r["images"] == 8 and "[-4, 4] px" in r["protocol"]


class _Planted(nn.Module):
    """Image b predicts class 0 or 1 from its flag pixel; 'flaky' images (flag 2) predict the
    parity of the forward-pass count, so the two views of a pair (two forwards) always differ."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flag = x[:, 0].amax(dim=(1, 2))  # constant images: the flag survives every shift
        cls = torch.where(flag == 2, torch.full_like(flag, self.calls % 2), flag).long()
        self.calls += 1
        return F.one_hot(cls, 2).float()


def test_consistency_matches_a_hand_computed_planted_example() -> None:
    flags = torch.tensor([0.0, 1.0, 1.0, 2.0])  # three stable images, one flaky
    x = flags.view(4, 1, 1, 1).expand(4, 3, 6, 6).clone()
    y = torch.tensor([0, 1, 0, 0])
    r = shift_consistency(_Planted(), [(x, y)], max_shift=2, mode="circular", pairs=2)
    # consistent: images 0, 1, 2 in both pairs = 6 of 8; top-1 (first forward, calls = 0):
    # predictions 0, 1, 1, 0 vs labels 0, 1, 0, 0 -> 3 of 4
    assert r["consistency_pct"] == 75.0 and r["top1_pct"] == 75.0


def test_circular_gap_model_is_exactly_consistent_and_zero_padding_is_not() -> None:
    torch.manual_seed(0)
    circ = create_model("classifier", num_outputs=10, width=4, padding="circular").eval()
    # shifts by multiples of the total stride (16) keep a circular net exactly invariant
    x = torch.randn(32, 3, 32, 32)
    shifts = 16 * torch.randint(-1, 2, (32, 2))
    with torch.no_grad():
        assert torch.allclose(circ(translate(x, shifts, "circular")), circ(x), atol=1e-4)
    zero = create_model("classifier", num_outputs=10, width=4, padding="zeros").eval()
    r = shift_consistency(zero, [(x, torch.zeros(32, dtype=torch.long))], 4, "zeros", pairs=4)
    assert r["consistency_pct"] < 100.0


def test_prediction_agreement_by_hand() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    b = torch.tensor([[5.0, 0.0], [1.0, 0.0], [2.0, 1.0], [1.0, 0.0]])
    assert prediction_agreement(a, b).tolist() == [True, False, True, False]


def test_consistency_is_deterministic_given_the_seed_and_restores_train_mode() -> None:
    model = create_model("classifier", num_outputs=10, width=4).train()
    loader = [(torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,)))]
    a = shift_consistency(model, loader, 4, "zeros", pairs=2, seed=3)
    b = shift_consistency(model, loader, 4, "zeros", pairs=2, seed=3)
    assert a == b and model.training
