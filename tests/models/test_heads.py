import pytest
import torch

from chanpos.data import place_in_grid
from chanpos.models import create_model, list_models, register_model


def test_gapnet_circular_logits_do_not_depend_on_the_cell() -> None:
    """Claim 1's physical check: circular padding + stride-multiple shifts = equivariance."""
    model = create_model("gapnet", num_classes=9, width=8, padding="circular").eval()
    tile = torch.randn(1, 3, 32, 32)
    canvases = place_in_grid(tile.expand(9, -1, -1, -1), torch.arange(9), 3)
    with torch.no_grad():
        logits = model(canvases)
    assert torch.allclose(logits, logits[:1].expand_as(logits), atol=1e-4)


def test_gapnet_zero_padding_logits_depend_on_the_cell() -> None:
    model = create_model("gapnet", num_classes=9, width=8, padding="zeros").eval()
    tile = torch.randn(1, 3, 32, 32)
    canvases = place_in_grid(tile.expand(9, -1, -1, -1), torch.arange(9), 3)
    with torch.no_grad():
        logits = model(canvases)
    assert not torch.allclose(logits, logits[:1].expand_as(logits), atol=1e-4)


def test_permutenet_permutes_every_forward_but_pools_the_same() -> None:
    model = create_model("permutenet", num_classes=5, width=8).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = model(x), model(x)
        za, zb = model.encode(x), model.encode(x)
    assert not torch.allclose(a, b)
    assert torch.equal(za, zb)


def test_permutenet_evaluates_every_sample_in_its_own_order() -> None:
    """Evaluation draws one permutation per sample (training one per batch): a sample
    repeated through a batch gets different logits only in evaluation, and each of them
    reads a channel of that sample's own pooled vector."""
    model = create_model("permutenet", num_classes=5, width=8)
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.weight[0, 0] = 1.0  # logit 0 = the channel the permutation puts first
        model.fc.bias.zero_()
        x = torch.randn(1, 3, 32, 32).expand(64, -1, -1, -1)
        model.eval()
        first = model(x)[:, 0]
        z = model.encode(x[:1])[0]
        model.train()
        train_first = model(x)[:, 0]
    assert all(bool(torch.isclose(v, z, atol=1e-6).any()) for v in first)
    assert len({round(float(v), 6) for v in first}) > 10  # many orders in one batch
    assert len({round(float(v), 6) for v in train_first}) == 1  # one order per batch


def test_registry_lists_and_refuses_duplicates() -> None:
    assert {"gapnet", "permutenet", "classifier"} <= set(list_models())
    assert list_models("perm*") == ["permutenet"]
    with pytest.raises(ValueError, match="already registered"):
        register_model("gapnet")(lambda: None)
    with pytest.raises(ValueError, match="unknown model 'nope'; known models:"):
        create_model("nope")


def test_width_scales_channels_and_torchvision_backbone_works() -> None:
    assert create_model("gapnet", width=16).backbone.out_channels == 128
    m = create_model("classifier", backbone="resnet50", num_classes=3).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, 64, 64)).shape == (1, 3)
    assert m.backbone.out_channels == 2048
