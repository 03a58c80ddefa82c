"""channels_last on narrow networks: the strided 1x1 convs whose channels_last backward
corrupts the heap on torch's CPU kernels are replaced by an identical subsampled conv."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chanpos.models import (
    channels_last_ok,
    channels_last_safe,
    create_model,
    set_padding,
    to_channels_last,
)
from chanpos.models.memory_format import SubsampledPointwiseConv2d


@pytest.mark.parametrize("stride,size", [(2, 8), (2, 9), (3, 10), ((2, 1), 7)])
def test_subsampled_pointwise_conv_is_the_strided_conv(stride, size) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 12, 1, stride=stride, bias=True)
    x = torch.randn(3, 8, size, size + 1, requires_grad=True)
    ref = conv(x)
    (ref ** 2).sum().backward()
    grads = [x.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone()]
    for t in (x, conv.weight, conv.bias):
        t.grad = None
    channels_last_safe(conv)
    assert isinstance(conv, SubsampledPointwiseConv2d)
    out = conv(x)
    (out ** 2).sum().backward()
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    for got, want in zip([x.grad, conv.weight.grad, conv.bias.grad], grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_guard_flags_narrow_strided_shortcuts_until_made_safe() -> None:
    net = create_model("gapnet", width=8)
    assert not channels_last_ok(net)
    assert channels_last_ok(create_model("gapnet", width=16))
    keys = list(net.state_dict())
    channels_last_safe(net)
    assert channels_last_ok(net)
    assert list(net.state_dict()) == keys  # checkpoints of a safe model load into a plain one
    assert any(isinstance(m, SubsampledPointwiseConv2d) for m in net.modules())


def test_narrow_model_trains_in_channels_last_with_the_same_function() -> None:
    torch.manual_seed(0)
    net = create_model("classifier", num_classes=4, width=4)
    x = torch.randn(5, 3, 32, 32)
    want = net.eval()(x)
    assert to_channels_last(net)
    assert net.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    got = net(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    net.train()
    for _ in range(3):  # the backward that corrupted the heap before
        loss = F.cross_entropy(net(x.contiguous(memory_format=torch.channels_last)),
                               torch.arange(5) % 4)
        loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_partial_padding_and_not_wanted_stay_contiguous() -> None:
    assert not to_channels_last(set_padding(create_model("gapnet", width=8), "partial"))
    wide = create_model("gapnet", width=16)
    assert not to_channels_last(wide, wanted=False)
    assert wide.backbone.conv1.weight.is_contiguous()
