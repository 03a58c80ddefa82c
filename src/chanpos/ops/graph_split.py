"""Head-only re-evaluation of any traced model: split a `torch.fx.GraphModule` at one module.

`split_graph(gm, target)` returns `encode(x)`, which runs every node the split module's
output does not feed (once per batch) and keeps what the rest needs, and `decode(f)`, which
runs only the nodes downstream of the split with `f` in place of that module's output. An
attack that zeroes channels of the split layer then re-runs only the part of the network
after it per channel set, for models with skip connections around the split too (a DBNet's
neck reads every backbone stage; only the nodes fed by the attacked stage re-run).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, fx, nn

from ..errors import ChanposError

__all__ = ["GraphSplit", "split_graph"]


def _fetch(gm: nn.Module, target: str) -> Any:
    obj: Any = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


class GraphSplit:
    """`encode(x) -> the split module's output`; `decode(f) -> the graph's output` with `f`
    in its place (the upstream values `decode` needs are kept from the last `encode`)."""

    def __init__(self, gm: fx.GraphModule, target: str) -> None:
        nodes = list(gm.graph.nodes)
        found = [n for n in nodes if n.op == "call_module" and n.target == target]
        if not found:
            raise ChanposError(f"layer {target!r} is not a module call of the traced graph; "
                               "list the layers with chanpos layers")
        split = found[0]
        down = {split}
        for n in nodes[nodes.index(split) + 1:]:
            if any(a in down for a in n.all_input_nodes):
                down.add(n)
        if not any(n.op == "output" for n in down):
            raise ChanposError(f"the model's output does not depend on layer {target!r}")
        self._gm = gm
        self._split = split
        self._up = [n for n in nodes if n not in down]
        self._down = [n for n in nodes if n in down and n is not split]
        self._needed = {a for n in self._down for a in n.all_input_nodes if a not in down}
        self._kept: dict[fx.Node, Any] | None = None

    def _run(self, node: fx.Node, env: dict[fx.Node, Any]) -> Any:
        args = fx.node.map_arg(node.args, lambda a: env[a])
        kwargs = fx.node.map_arg(node.kwargs, lambda a: env[a])
        if node.op == "call_module":
            return self._gm.get_submodule(node.target)(*args, **kwargs)
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        if node.op == "get_attr":
            return _fetch(self._gm, node.target)
        if node.op == "output":
            return args[0]
        raise ChanposError(f"cannot re-run graph node {node.name} ({node.op})")

    def encode(self, x: Tensor) -> Tensor:
        """Run the graph up to the split module (once per batch) -> its output."""
        env: dict[fx.Node, Any] = {}
        inputs = iter([x])
        for node in self._up:
            env[node] = next(inputs) if node.op == "placeholder" else self._run(node, env)
        env[self._split] = self._run(self._split, env)
        self._kept = {n: env[n] for n in self._needed}
        return env[self._split]

    def decode(self, features: Tensor) -> Any:
        """The graph's output with `features` as the split module's output."""
        if self._kept is None:
            raise ChanposError("decode before encode: run encode on the batch first")
        env = dict(self._kept)
        env[self._split] = features
        out = None
        for node in self._down:
            value = self._run(node, env)
            if node.op == "output":
                out = value
            else:
                env[node] = value
        return out


def split_graph(gm: nn.Module, target: str) -> GraphSplit:
    """A `GraphSplit` of `gm` at submodule `target` (a `torch.fx.GraphModule`, e.g. a
    converted ONNX model; other modules are traced symbolically first)."""
    if not isinstance(gm, fx.GraphModule):
        gm = fx.symbolic_trace(gm)
    return GraphSplit(gm, target)

