"""Head-only re-evaluation of a traced graph: decode(encode(x)) is the model's own output,
with a skip connection around the split layer too."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from chanpos.errors import ChanposError
from chanpos.ops.graph_split import split_graph


class _Skip(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.deep = nn.Conv2d(8, 8, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.relu(self.stem(x))
        d = self.deep(torch.relu(self.down(s)))
        return self.head(torch.cat([s, self.up(d)], 1))


@torch.no_grad()
def test_decode_of_encode_is_the_forward_pass() -> None:
    torch.manual_seed(0)
    net = _Skip().eval()
    x = torch.randn(2, 3, 16, 16)
    split = split_graph(net, "deep")
    f = split.encode(x)
    assert f.shape == (2, 8, 8, 8)
    assert torch.equal(split.decode(f), net(x))
    zeroed = split.decode(torch.zeros_like(f))  # the skip path still carries the stem
    assert not torch.equal(zeroed, net(x))
    expected = net.head(torch.cat([torch.relu(net.stem(x)), torch.zeros(2, 8, 16, 16)], 1))
    assert torch.allclose(zeroed, expected, atol=1e-6)


def test_an_unknown_layer_is_one_line() -> None:
    with pytest.raises(ChanposError, match="not a module call"):
        split_graph(_Skip(), "nope")
