"""CNNs from ONNX files of any origin, as `nn.Module`s (the optional extra `real`).

`load_onnx` checks the file before converting it (not ONNX, operators of a custom domain, an
external-data path outside the file's folder: one line each), moves the `Constant` nodes that
hold the weights of many exporters (paddle2onnx) into the graph's initializers, so that
`onnx2torch` makes them parameters and buffers, converts the graph, and checks the converted
module against onnxruntime on one input when onnxruntime is installed.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ChanposError

__all__ = ["REAL_EXTRA", "require_real", "load_onnx", "check_against_onnxruntime"]

REAL_EXTRA = "pip install 'chanpos[real]'"
_STANDARD_DOMAINS = ("", "ai.onnx")
_TOLERANCE = 1e-4  # the largest |torch - onnxruntime| accepted, relative to the output's scale


def require_real(module: str) -> Any:
    """Import `module` of the extra `real`, or a one-line error naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ChanposError(f"this needs the Python package {module!r} of the extra 'real' "
                           f"(ONNX import, the PaddleOCR networks): {REAL_EXTRA}") from None


def _read(path: Path) -> Any:
    onnx = require_real("onnx")
    if not path.is_file():
        raise ChanposError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
        raise ChanposError(f"{path} is not an ONNX model file ({type(exc).__name__}); give a "
                           ".onnx file") from None
    if not model.graph.node:
        raise ChanposError(f"{path} is not an ONNX model (its graph has no nodes)")
    return model


def _check_domains(model: Any, path: Path) -> None:
    for node in model.graph.node:
        if node.domain not in _STANDARD_DOMAINS:
            raise ChanposError(f"{path}: node {node.name or node.op_type!r} uses the operator "
                               f"{node.domain}::{node.op_type} of a custom domain, which cannot "
                               "be converted; export the model with standard ONNX operators")


def _external_tensors(model: Any) -> list[Any]:
    onnx = require_real("onnx")
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors += [a.t for a in node.attribute if a.type == onnx.AttributeProto.TENSOR]
    return [t for t in tensors if t.data_location == onnx.TensorProto.EXTERNAL]


def _load_external(model: Any, path: Path) -> None:
    """External weight files must lie inside the model's folder (a crafted file could name
    /etc/passwd or ../../secret)."""
    onnx = require_real("onnx")
    folder = path.resolve().parent
    tensors = _external_tensors(model)
    for t in tensors:
        where = {e.key: e.value for e in t.external_data}.get("location", "")
        target = (folder / where).resolve()
        if not target.is_relative_to(folder) or not where:
            raise ChanposError(f"{path}: tensor {t.name!r} names the external data file "
                               f"{where!r}, outside the model's folder; refusing to read it")
        if not target.is_file():
            raise ChanposError(f"{path}: the external data file {where!r} of tensor "
                               f"{t.name!r} is missing; put it beside the model")
    if tensors:
        onnx.external_data_helper.load_external_data_for_model(model, str(folder))


def _constants_to_initializers(model: Any) -> int:
    """Move every `Constant` node with a tensor value into the initializers -> how many."""
    onnx = require_real("onnx")
    graph, keep, moved = model.graph, [], 0
    for node in graph.node:
        value = [a for a in node.attribute if a.name == "value"]
        if node.op_type == "Constant" and value and value[0].type == onnx.AttributeProto.TENSOR:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(value[0].t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
            moved += 1
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return moved


def load_onnx(path: Path, *, check_input: tuple[int, ...] | None = None) -> nn.Module:
    """The ONNX CNN at `path` as an `nn.Module` in eval mode (one-line errors for bad files);
    with `check_input` (a shape), its output is compared with onnxruntime's on one input."""
    path = Path(path)
    model = _read(path)
    _check_domains(model, path)
    _load_external(model, path)
    _constants_to_initializers(model)
    convert = require_real("onnx2torch").convert
    # onnx2torch's Slice indexes with a list (a deprecation warning at every forward pass)
    warnings.filterwarnings("ignore", message="Using a non-tuple sequence",
                            category=UserWarning)
    try:
        net = convert(model)
    except Exception as exc:  # an operator or attribute onnx2torch does not support
        raise ChanposError(f"{path}: cannot convert to PyTorch ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else 'unsupported'})") from None
    net = net.eval()
    if check_input is not None:
        check_against_onnxruntime(net, path, check_input)
    return net


@torch.no_grad()
def check_against_onnxruntime(net: nn.Module, path: Path, shape: tuple[int, ...],
                              seed: int = 0) -> float | None:
    """Max |torch - onnxruntime| of `net` and the file on one random input (None when
    onnxruntime is not installed); a difference above 1e-4 x the output's scale is an error."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed))
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        ref = torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    except Exception as exc:
        raise ChanposError(f"{path}: onnxruntime cannot run it on a {tuple(shape)} input "
                           f"({type(exc).__name__})") from None
    out = net(x)
    out = out[0] if isinstance(out, (tuple, list)) else out
    if tuple(out.shape) != tuple(ref.shape):
        raise ChanposError(f"{path}: the converted model's output {tuple(out.shape)} differs "
                           f"from onnxruntime's {tuple(ref.shape)}")
    diff = float((out - ref).abs().max())
    if diff > _TOLERANCE * max(1.0, float(ref.abs().max())):
        raise ChanposError(f"{path}: the converted model differs from onnxruntime by {diff:.2g} "
                           "on a random input; this file's conversion is not exact")
    return diff
