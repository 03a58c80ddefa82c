"""The default probed layer and readout stages are found by running the model: the last
feature map before global pooling, and the last block of each spatial resolution."""

import pytest
import torch
import torchvision

from chanpos.models import create_model
from chanpos.probes.layers import default_layer, default_stages, total_stride, trace_layers

X = torch.randn(1, 3, 64, 64)


@pytest.mark.parametrize(("name", "layer", "stages"), [
    ("resnet18", "layer4", ("layer1", "layer2", "layer3", "layer4")),
    ("vgg16_bn", "features", ("features.12", "features.22", "features.32", "features.42")),
    ("mobilenet_v3_small", "features", ("features.1", "features.3", "features.8",
                                        "features.12")),
    ("convnext_tiny", "features", ("features.1", "features.3", "features.5", "features.7")),
    ("efficientnet_b0", "features", ("features.2", "features.3", "features.5", "features.8")),
])
def test_torchvision_classifiers_get_their_last_feature_map_and_four_stages(
        name: str, layer: str, stages: tuple[str, ...]) -> None:
    net = torchvision.models.get_model(name, weights=None)
    assert default_layer(net, X) == layer
    got = default_stages(net, X, layer)
    assert got == stages
    shapes = {t.name: t.shape for t in trace_layers(net, X)}
    sides = [shapes[s][-1] for s in got]
    assert sides == sorted(sides, reverse=True) and len(set(sides)) == 4  # one per resolution
    assert total_stride(net, layer, X) == 32


def test_chanpos_models_probe_their_backbone_and_its_four_layers() -> None:
    for name in ("classifier", "gapnet", "permutenet"):
        net = create_model(name, num_classes=4, width=4)
        assert default_layer(net, X) == "backbone"
        assert default_stages(net, X, "backbone") == tuple(f"backbone.layer{i}"
                                                           for i in range(1, 5))
        assert total_stride(net, "backbone", X) == 16  # the paper stem has no max-pool


def test_a_model_without_feature_maps_is_one_line() -> None:
    from chanpos.errors import ChanposError

    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 4))
    with pytest.raises(ChanposError, match="no \\(B, C, H, W\\) feature map"):
        default_layer(mlp, X)
