import pytest
import torch
import torch.nn.functional as F

from chanpos.errors import ChanposError
from chanpos.models import create_model
from chanpos.training.losses import AugShiftLoss, AugShiftParts


def test_negative_lambda_is_a_user_error() -> None:
    with pytest.raises(ChanposError, match="lambda must be >= 0"):
        AugShiftLoss(-0.5)
    with pytest.raises(ChanposError, match="lambda must be >= 0"):
        AugShiftLoss(float("nan"))


def test_augshift_loss_equals_the_formula() -> None:
    z1 = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    z2 = torch.tensor([[1.5, 2.0], [0.0, 1.0]])
    l1 = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    l2 = torch.tensor([[0.0, 1.0, 0.0], [1.0, 2.0, 3.0]])
    y = torch.tensor([0, 2])
    out = AugShiftLoss(lam=10.0)(z1, z2, l1, l2, y)
    assert isinstance(out, AugShiftParts)
    # by hand: MSE = (0.25 + 0 + 0 + 4) / 4; CE = mean of -log softmax at the target
    ce1 = (-(2 - torch.log(torch.exp(torch.tensor(2.0)) + 1 + torch.exp(torch.tensor(-1.0))))
           + torch.log(torch.tensor(3.0))) / 2
    ce2 = (torch.log(2 + torch.exp(torch.tensor(1.0)))
           + -(3 - torch.log(torch.exp(torch.tensor([1.0, 2.0, 3.0])).sum()))) / 2
    assert torch.isclose(out.mse, torch.tensor(4.25 / 4))
    assert torch.isclose(out.ce1, ce1) and torch.isclose(out.ce2, ce2)
    assert torch.isclose(out.loss, ce1 + ce2 + 10.0 * torch.tensor(4.25 / 4))


def test_lambda_zero_leaves_only_the_two_cross_entropies() -> None:
    z1, z2 = torch.randn(4, 5), torch.randn(4, 5)
    l1, l2 = torch.randn(4, 3), torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 1])
    out = AugShiftLoss(0.0)(z1, z2, l1, l2, y)
    assert out.mse > 0
    assert torch.equal(out.loss, F.cross_entropy(l1, y) + F.cross_entropy(l2, y))


def test_augshift_mse_is_zero_for_identical_views() -> None:
    model = create_model("classifier", num_classes=4, width=4).eval()
    x = torch.randn(3, 3, 32, 32)
    y = torch.tensor([0, 1, 3])
    parts, logits = AugShiftLoss(5.0).from_model(model.encode, model.classify, x, x, y)
    assert parts.mse == 0
    assert torch.allclose(parts.loss, 2 * F.cross_entropy(model(x), y), atol=1e-6)
    assert torch.allclose(logits, model(x), atol=1e-6)


def test_from_model_encodes_both_views_as_one_batch_and_splits_them_in_order() -> None:
    seen = []

    def encode(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x.flatten(1)[:, :2]

    def classify(z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, -z], dim=1)

    x1, x2 = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2)
    y = torch.tensor([0, 3, 1])
    parts, logits1 = AugShiftLoss(2.0).from_model(encode, classify, x1, x2, y)
    assert len(seen) == 1 and torch.equal(seen[0], torch.cat([x1, x2]))
    z1, z2 = x1.flatten(1)[:, :2], x2.flatten(1)[:, :2]
    expected = AugShiftLoss(2.0)(z1, z2, classify(z1), classify(z2), y)
    assert torch.equal(logits1, classify(z1))
    for got, want in zip(parts, expected, strict=True):
        assert torch.equal(got, want)
