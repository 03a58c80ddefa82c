import pytest
import torch
from torch import nn

from chanpos.errors import ChanposError
from chanpos.models import create_model
from chanpos.probes.ablation import SegmentationParts, ablate_channels, attack_confusions, predict_labels
from chanpos.probes.channels import rank_position_channels, resolve_layer
from chanpos.probes.segmentation import ZONES, region_confusion, zone_confusions


class Planted(nn.Module):
    """Channels built to respond to content on one side: 8 channels, channel c = relu(x) *
    a spatial weight; channels 2 and 5 weight the left, 6 the right, others are uniform."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        ramp = torch.linspace(1, 0, width)  # 1 at the left border, 0 at the right
        weights = torch.ones(8, 1, width)
        weights[2, 0] = 3 * ramp
        weights[5, 0] = 2 * ramp
        weights[6, 0] = 4 * ramp.flip(0)
        self.register_buffer("weights", weights)
        self.features = nn.Identity()
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        f = self.features(x[:, :1].relu() * self.weights)  # (B, 8, H, W)
        return self.head(f)


def _left_heavy(n: int = 6, h: int = 4, w: int = 16) -> torch.Tensor:
    x = torch.rand(n, 3, h, w) * 0.1
    x[..., : w // 4] += 1.0  # bright content on the left
    return x


def test_absolute_ranking_recovers_planted_channels() -> None:
    model = Planted()
    r = rank_position_channels(model, "features", [_left_heavy()], "absolute")
    assert set(r.order[:3].tolist()) == {2, 5, 6}
    assert r.order[0].item() == 6 and r.num_images == 6  # largest weight, 4 x
    # uniform channels do not change under a flip
    assert torch.allclose(r.scores[[0, 1, 3, 4, 7]], torch.zeros(5), atol=1e-6)


def test_signed_ranking_gives_left_and_right_channels() -> None:
    model = Planted()
    r = rank_position_channels(model, "features", [_left_heavy()], "signed")
    assert set(r.sides["left"][:2].tolist()) == {2, 5}
    assert r.sides["right"][0].item() == 6
    v = rank_position_channels(model, "features", [_left_heavy()], "signed", flip="vertical")
    assert set(v.sides) == {"top", "bottom"}
    assert torch.allclose(v.scores, torch.zeros(8), atol=1e-6)  # no vertical structure


def test_ranking_accepts_module_or_callable_and_restores_mode() -> None:
    model = Planted().train()
    by_module = rank_position_channels(model, model.features, [_left_heavy()])
    by_fn = rank_position_channels(
        model, lambda x: x[:, :1].relu() * model.weights, [_left_heavy()]
    )
    assert torch.equal(by_module.order, by_fn.order) and model.training


def test_channels_last_ranking_equals_default_and_restores_format() -> None:
    torch.manual_seed(0)
    net = create_model("deeplabv3_small", num_classes=4, width=16, head_channels=16).eval()
    batches = [torch.randn(2, 3, 32, 64) for _ in range(2)]
    plain = rank_position_channels(net, "backbone", batches)
    fast = rank_position_channels(net, "backbone", batches, channels_last=True)
    assert torch.allclose(plain.scores, fast.scores, atol=1e-5, rtol=1e-4)
    assert net.backbone.conv1.weight.is_contiguous()  # the model's format is back


def test_unknown_layer_lists_valid_names() -> None:
    model = create_model("deeplabv3_small", num_classes=3, width=4, head_channels=8)
    with pytest.raises(ChanposError, match="valid layers: backbone, backbone.conv1") as info:
        resolve_layer(model, "backbone.layer9")
    assert "\n" not in str(info.value) and "backbone.layer4" in str(info.value)
    with pytest.raises(ChanposError, match="unknown ranking mode"):
        rank_position_channels(model, "backbone", [torch.zeros(1, 3, 32, 32)], "sideways")


def test_ablation_equals_manual_zeroing_and_restores_model() -> None:
    model = create_model("deeplabv3_small", num_classes=3, width=4, head_channels=8).eval()
    x = torch.randn(2, 3, 32, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ref = model(x)["out"]
    idx = [0, 3, 17]
    with torch.no_grad():
        feats = model.backbone(x)["out"].clone()
        feats[:, idx] = 0
        manual = nn.functional.interpolate(model.classifier(feats), size=x.shape[-2:],
                                           mode="bilinear", align_corners=False)
        for layer in ("backbone", "backbone.layer4"):  # dict output and tensor output
            with ablate_channels(model, layer, idx):
                assert torch.equal(model(x)["out"], manual)
    assert torch.equal(model(x)["out"], ref)
    assert not model.backbone.layer4._forward_hooks and not model.backbone._forward_hooks
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ChanposError, match="out of range"):
        with ablate_channels(model, "backbone", [32]):
            model(x)


def test_cached_attack_equals_full_rerun_exactly() -> None:
    torch.manual_seed(1)
    model = create_model("deeplabv3_small", num_classes=4, width=4, head_channels=8).eval()
    # non-trivial BN statistics so that zeroing matters
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    batches = [(torch.randn(3, 3, 32, 64), torch.randint(0, 4, (3, 32, 64))) for _ in range(2)]
    batches[0][1][0, :5] = 255  # ignored pixels
    sets = [torch.tensor([], dtype=torch.long), torch.tensor([1, 2]), torch.arange(0, 32, 2),
            torch.randperm(32)[:20]]
    cached = attack_confusions(model, batches, sets, 4)
    assert cached.shape == (4, ZONES, 4, 4)
    for i, s in enumerate(sets):
        full = torch.zeros(ZONES, 4, 4, dtype=torch.long)
        for x, y in batches:
            with torch.no_grad(), ablate_channels(model, "backbone", s):
                pred = model(x)["out"].argmax(1)  # the full model: backbone + head per set
            full += zone_confusions(pred, y, 4)[0]
        assert torch.equal(cached[i], full)
    assert int(region_confusion(cached[0], "all").sum()) == 2 * 3 * 32 * 64 - 5 * 64


def test_attack_with_explicit_parts_and_label_resolution() -> None:
    conv = nn.Conv2d(3, 2, 1)
    parts = SegmentationParts(encode=lambda x: x, decode=conv)
    x, y = torch.randn(2, 3, 4, 4), torch.randint(0, 2, (2, 8, 8))  # labels at 2x
    counts = attack_confusions(parts, [(x, y)], [torch.tensor([0])], 2)
    with torch.no_grad():
        z = x.clone()
        z[:, 0] = 0
        ref = zone_confusions(predict_labels(conv(z), (8, 8)), y, 2)
    assert torch.equal(counts[0], ref[0])


def test_predict_labels_matches_argmax_on_ties() -> None:
    logits = torch.randint(0, 2, (2, 5, 6, 7)).float()
    assert torch.equal(predict_labels(logits), logits.argmax(1))
