"""The audit's probes: SPC and MAE against references, a planted position channel found by the
readout and by flip ranking, an exactly equivariant network that carries no position."""

import pytest
import torch
from scipy import stats
from torch import nn

from chanpos.data import place_in_grid
from chanpos.models import create_model
from chanpos.probes.channels import rank_position_channels
from chanpos.probes.position import (
    fit_linear_probe,
    fit_readout,
    half_mass_fraction,
    mae,
    pooled_vectors,
    position_map,
    spc,
    stage_features,
)
from chanpos.verdicts import t_interval


def test_spc_matches_scipy_and_mae_matches_a_hand_computation() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        a, b = torch.randn(9, 9, generator=g), torch.randn(9, 9, generator=g)
        ref = stats.spearmanr(a.flatten().numpy(), b.flatten().numpy()).statistic
        assert spc(a, b) == pytest.approx(float(ref), abs=1e-12)
    ties_a, ties_b = torch.tensor([1.0, 1.0, 2.0, 3.0]), torch.tensor([4.0, 3.0, 3.0, 1.0])
    assert spc(ties_a, ties_b) == pytest.approx(stats.spearmanr(ties_a, ties_b).statistic)
    assert mae(torch.tensor([0.0, 1.0, 3.0]), torch.tensor([1.0, 1.0, 1.0])) == pytest.approx(1.0)


def test_a_constant_map_has_no_spc_never_zero() -> None:
    assert spc(torch.full((5, 5), 0.3), position_map("H", 5, 5)) is None
    assert spc(position_map("H", 5, 5), torch.ones(5, 5)) is None


def test_position_maps_by_hand() -> None:
    assert position_map("H", 2, 3).tolist() == [[0.0, 0.5, 1.0]] * 2
    assert position_map("V", 3, 1).flatten().tolist() == [0.0, 0.5, 1.0]
    g = position_map("G", 5, 5)
    assert g[2, 2] == 1.0 and g[0, 0] < g[1, 1] < g[2, 2]
    assert set(position_map("HS", 16, 16).unique().tolist()) == {0.0, 1.0}
    assert torch.equal(position_map("VS", 8, 16), position_map("HS", 16, 8).T)


def test_half_mass_fraction() -> None:
    assert half_mass_fraction(torch.tensor([9.0, 1.0, 0.0, 0.0])) == 0.25
    assert half_mass_fraction(torch.ones(8)) == 0.5


class PlantedStage(nn.Module):
    """One x-coordinate channel (CoordConv-like, scaled by the local image intensity so that
    a flip moves its pooled value) among noise: random convs of the image, whose pooled
    values barely change under a flip."""

    def __init__(self, channels: int = 8, planted: int = 5) -> None:
        super().__init__()
        self.planted = planted
        self.conv = nn.Conv2d(3, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv(x)
        b, _, h, w = x.shape
        xs = torch.linspace(0, 1, w, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        weight = 1 + 0.5 * torch.tanh(x.mean(dim=1, keepdim=True))
        return torch.cat([f[:, :self.planted], xs * weight, f[:, self.planted + 1:]], dim=1)


class Planted(nn.Module):
    """A small CNN: the planted stage, global pooling, a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.stage = PlantedStage()
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stage(x).mean(dim=(-2, -1)))


def test_a_planted_position_channel_is_read_out_ranked_first_and_beats_random_channels() -> None:
    torch.manual_seed(0)
    model = Planted().eval()
    g = torch.Generator().manual_seed(1)
    images = torch.randn(120, 3, 32, 32, generator=g)
    train, test = stage_features(model, ["stage"], images[:80], 28)[0], \
        stage_features(model, ["stage"], images[80:], 28)[0]
    (h,) = fit_readout(train, test, ["H"], epochs=40, seed=0)
    assert h.spc >= 0.9
    ranking = rank_position_channels(model, "stage", images.split(20), "absolute")
    assert int(ranking.order[0]) == 5
    (top1,) = fit_readout(train[:, [5]], test[:, [5]], ["H"], epochs=40, seed=0)
    randoms = [fit_readout(train[:, [c]], test[:, [c]], ["H"], epochs=40, seed=0)[0].spc
               for c in (0, 2, 7)]
    assert top1.spc >= 0.9 and all(r is None or r < top1.spc - 0.3 for r in randoms)


def test_the_readout_on_the_image_alone_finds_no_position() -> None:
    g = torch.Generator().manual_seed(2)
    images = torch.randn(100, 3, 28, 28, generator=g)
    scores = fit_readout(images[:70], images[70:], ["H", "V"], epochs=20, seed=0)
    for s in scores:
        assert s.spc is None or abs(s.spc) < 0.2


def test_an_exactly_equivariant_network_carries_no_position_through_pooling() -> None:
    """Circular padding, 32 px tiles, total stride 16: moving the tile to another cell rolls
    the feature map by whole positions, so the pooled vector is the same for every cell and
    a probe is at chance (its interval over replicates covers chance)."""
    torch.manual_seed(0)
    net = create_model("gapnet", num_classes=4, width=4, padding="circular").eval()
    g = torch.Generator().manual_seed(3)
    tiles = torch.randn(160, 3, 32, 32, generator=g)
    accs = []
    for r in range(4):
        gr = torch.Generator().manual_seed(10 + r)
        cells = torch.randint(0, 4, (160,), generator=gr)
        z = pooled_vectors(net, "backbone", place_in_grid(tiles, cells, 2))
        accs.append(fit_linear_probe(z[:120], cells[:120], z[120:], cells[120:], 4,
                                     seed=r).accuracy_pct)
    # the pooled vectors do not depend on the cell at all (up to float rounding)
    same = pooled_vectors(net, "backbone", place_in_grid(tiles[:4], torch.tensor([0, 1, 2, 3]), 2))
    other = pooled_vectors(net, "backbone", place_in_grid(tiles[:4], torch.tensor([3, 2, 1, 0]), 2))
    assert torch.allclose(same, other, atol=1e-4)
    _, lo, hi = t_interval(accs)
    assert lo <= 25.0 <= hi


def test_a_zero_padded_network_does_carry_position_and_shuffling_removes_it() -> None:
    torch.manual_seed(0)
    net = create_model("gapnet", num_classes=4, width=4, padding="zeros").eval()
    g = torch.Generator().manual_seed(4)
    tiles = torch.randn(400, 3, 32, 32, generator=g)
    cells = torch.randint(0, 4, (400,), generator=g)
    z = pooled_vectors(net, "backbone", place_in_grid(tiles, cells, 2))
    plain = fit_linear_probe(z[:300], cells[:300], z[300:], cells[300:], 4)
    shuffled = fit_linear_probe(z[:300], cells[:300], z[300:], cells[300:], 4, shuffle=True)
    # order-free statistics (the mean activation) keep some of it, the order the rest
    assert plain.converged and plain.accuracy_pct > 90 and shuffled.accuracy_pct < plain.accuracy_pct - 30


@torch.no_grad()
def test_the_wide_readout_as_matrix_products_is_the_conv() -> None:
    from chanpos.probes.position import GEMM_FROM, PositionReadout

    torch.manual_seed(0)
    readout = PositionReadout(GEMM_FROM + 44, 5).eval()
    x = torch.randn(3, GEMM_FROM + 44, 9, 11)
    conv = torch.sigmoid(readout.bn(readout.conv(x)))
    assert readout(x).shape == conv.shape == (3, 5, 7, 9)
    assert torch.allclose(readout(x), conv, atol=1e-5)
    assert torch.allclose(readout([x[:, :100], x[:, 100:]]), conv, atol=1e-5)  # parts, unjoined


@torch.no_grad()
def test_bfloat16_features_give_the_float32_readout_to_bfloat16_rounding() -> None:
    from chanpos.probes.position import GEMM_FROM, PositionReadout, readout_dtype

    assert readout_dtype(GEMM_FROM - 1) == torch.float32  # narrow: the conv, in float32
    assert readout_dtype(GEMM_FROM) in (torch.float32, torch.bfloat16)
    torch.manual_seed(0)
    readout = PositionReadout(GEMM_FROM + 44, 5).eval()
    x = torch.randn(3, GEMM_FROM + 44, 9, 11).relu()
    full = readout(x)
    half = readout([x[:, :100].bfloat16(), x[:, 100:].bfloat16()])
    assert half.dtype == torch.float32 and half.shape == full.shape
    assert (half - full).abs().max() < 2e-2 and not torch.equal(half, full)
    narrow = PositionReadout(8, 2).eval()  # below GEMM_FROM: bfloat16 inputs run the conv
    y = x[:, :8]
    assert torch.allclose(narrow(y.bfloat16()), narrow(y.bfloat16().float()))


def test_stage_features_are_stored_in_the_dtype_asked_for() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1))
    x = torch.randn(5, 3, 16, 16)
    (auto,) = stage_features(model, ["0"], x, 8)
    (half,) = stage_features(model, ["0"], x, 8, dtype=torch.bfloat16)
    assert auto.dtype == torch.float32 and half.dtype == torch.bfloat16  # 4 channels: float32
    assert torch.allclose(half.float(), auto, rtol=1e-2, atol=1e-2)
