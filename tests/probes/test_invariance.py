import pytest
import torch
import torch.nn.functional as F
from torch import nn

import chanpos.ops.shifts as ops
import chanpos.probes.invariance as inv
from chanpos.errors import ChanposError
from chanpos.models import create_model
from chanpos.probes import prediction_agreement, shift_consistency, shift_protocol, translate


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
    circ = create_model("classifier", num_classes=10, width=4, padding="circular").eval()
    # shifts by multiples of the total stride (16) keep a circular net exactly invariant
    x = torch.randn(32, 3, 32, 32)
    shifts = 16 * torch.randint(-1, 2, (32, 2))
    with torch.no_grad():
        assert torch.allclose(circ(translate(x, shifts, "circular")), circ(x), atol=1e-4)
    zero = create_model("classifier", num_classes=10, width=4, padding="zeros").eval()
    r = shift_consistency(zero, [(x, torch.zeros(32, dtype=torch.long))], 4, "zeros", pairs=4)
    assert r["consistency_pct"] < 100.0


def test_prediction_agreement_by_hand() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    b = torch.tensor([[5.0, 0.0], [1.0, 0.0], [2.0, 1.0], [1.0, 0.0]])
    assert prediction_agreement(a, b).tolist() == [True, False, True, False]


def test_consistency_is_deterministic_given_the_seed_and_restores_train_mode() -> None:
    model = create_model("classifier", num_classes=10, width=4).train()
    loader = [(torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,)))]
    a = shift_consistency(model, loader, 4, "zeros", pairs=2, seed=3)
    b = shift_consistency(model, loader, 4, "zeros", pairs=2, seed=3)
    assert a == b and model.training


def test_consistency_rejects_zero_pairs_an_empty_loader_and_a_bad_mode() -> None:
    loader = [(torch.randn(2, 3, 8, 8), torch.tensor([0, 1]))]
    with pytest.raises(ChanposError, match="pairs must be >= 1, got 0"):
        shift_consistency(_Constant(), loader, 2, pairs=0)
    with pytest.raises(ChanposError, match="empty loader"):
        shift_consistency(_Constant(), [], 2)
    with pytest.raises(ChanposError, match="unknown shift mode 'wrap'"):
        shift_consistency(_Constant(), loader, 2, mode="wrap")


def test_consistency_result_records_its_settings_and_protocol() -> None:
    loader = [(torch.randn(3, 3, 8, 8), torch.tensor([1, 1, 1]))]
    r = shift_consistency(_Constant(), loader, max_shift=2, mode="reflect", pairs=2, seed=7)
    assert {k: r[k] for k in ("images", "pairs", "max_shift", "shift_mode", "seed")} == {
        "images": 3, "pairs": 2, "max_shift": 2, "shift_mode": "reflect", "seed": 7}
    assert r["protocol"] == shift_protocol(2, "reflect", 2, 7)


def test_shift_protocol_states_range_padding_pairs_and_seed() -> None:
    zeros = shift_protocol(4, "zeros", 1, 0)
    assert "[-4, 4] px" in zeros and "zero padding" in zeros
    assert "averaged over 1 pair per image (seed 0)" in zeros
    circ = shift_protocol(2, "circular", 3, 5)
    assert "[-2, 2] px" in circ and "circular padding" in circ
    assert "averaged over 3 pairs per image (seed 5)" in circ


def test_probes_reexport_the_shift_ops_of_chanpos_ops() -> None:
    for name in ("SHIFT_MODES", "check_shift", "draw_shifts", "random_shift", "translate"):
        assert getattr(inv, name) is getattr(ops, name)
