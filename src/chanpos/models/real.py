"""Real pretrained networks that install offline, and ONNX files of any origin, as modules
chanpos probes and attacks (the optional extra `real`).

`ppocr-det` (PaddleOCR's PP-OCRv4 DBNet text detector: a fully convolutional network with a
per-pixel text probability map, trained on real scene text) and `ppocr-cls` (PaddleOCR's
MobileNetV3 text-direction classifier, 0 vs 180 degrees, ending in global average pooling)
are read from the installed `rapidocr-onnxruntime` wheel, never copied. `onnx:PATH` is any
ONNX CNN. A dense model (a 4-D output) is wrapped as a `DenseNetwork`, whose forward returns
{"out": class scores}, as chanpos's segmentation models; a classifier as a `ClassNetwork`.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, fx, nn

from ..errors import ChanposError
from ..names import ONNX_PREFIX, REAL_MODELS
from .onnx_import import REAL_EXTRA, load_onnx

__all__ = ["RealNetwork", "REAL_NETWORKS", "real_network",
           "load_real_model", "DenseNetwork", "ClassNetwork"]

_WHEEL = "rapidocr_onnxruntime"


@dataclass(frozen=True)
class RealNetwork:
    """What chanpos knows of a network it did not train: its file, task, input format
    (RGB mean/std of [0, 1] pixels, whether it reads BGR), and the layer it attacks or probes.

    `threshold`: a one-channel probability map's text threshold (DB's `thresh`)."""

    name: str
    file: str
    task: str  # "dense" (a per-pixel output) or "classification"
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    bgr: bool
    layer: str | None
    layer_reason: str
    description: str
    threshold: float = 0.5
    class_names: tuple[str, ...] = ()

    def path(self) -> Path:
        """The file inside the installed wheel (a one-line error naming the extra if absent)."""
        spec = importlib.util.find_spec(_WHEEL)
        if spec is None or spec.origin is None:
            raise ChanposError(f"--model {self.name} is read from the rapidocr-onnxruntime "
                               f"wheel, which is not installed: {REAL_EXTRA}")
        path = Path(spec.origin).parent / "models" / self.file
        if not path.is_file():
            raise ChanposError(f"the installed rapidocr-onnxruntime has no {self.file}; "
                               f"reinstall the extra: {REAL_EXTRA}")
        return path


REAL_NETWORKS: dict[str, RealNetwork] = {n.name: n for n in [
    RealNetwork(
        name="ppocr-det", file="ch_PP-OCRv4_det_infer.onnx", task="dense",
        input_size=(160, 320), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), bgr=True,
        layer="net.p2o/Conv/36",
        layer_reason="the backbone's deepest output (PPLCNetV3's stride-32 stage, 360 "
                     "channels), the input of the neck, as the paper zeroes the input of "
                     "DeepLabv3's ASPP head",
        description="PaddleOCR PP-OCRv4 text detector (DBNet, PPLCNetV3 backbone, 1.17 M "
                    "parameters, trained on real scene text)",
        threshold=0.3, class_names=("background", "text")),
    RealNetwork(
        name="ppocr-cls", file="ch_ppocr_mobile_v2.0_cls_infer.onnx", task="classification",
        input_size=(48, 192), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), bgr=True,
        layer=None, layer_reason="the last feature map before global pooling",
        description="PaddleOCR text-direction classifier (MobileNetV3, 0 vs 180 degrees)",
        class_names=("0", "180")),
]}
if tuple(REAL_NETWORKS) != REAL_MODELS:  # names.REAL_MODELS lists them for torch-free code
    raise RuntimeError("names.REAL_MODELS and models.real.REAL_NETWORKS differ")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def real_network(name: str) -> tuple[RealNetwork, Path]:
    """(what chanpos knows of the network, its file). An `onnx:PATH` file with the bytes of
    a built-in network is that network; any other file gets ImageNet statistics, RGB."""
    if name in REAL_NETWORKS:
        net = REAL_NETWORKS[name]
        return net, net.path()
    if not name.startswith(ONNX_PREFIX) or not name[len(ONNX_PREFIX):]:
        raise ChanposError(f"unknown --model {name!r}; use {', '.join(REAL_NETWORKS)} or "
                           "onnx:PATH")
    path = Path(name[len(ONNX_PREFIX):]).expanduser()
    if not path.is_file():
        raise ChanposError(f"--model {name}: no such file {path}")
    digest = _sha256(path)
    for known in REAL_NETWORKS.values():
        try:
            if _sha256(known.path()) == digest:
                return known, path
        except ChanposError:
            break  # the wheel is not installed: nothing to compare with
    return RealNetwork(
        name=name, file=path.name, task="", input_size=(224, 224),
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), bgr=False, layer=None,
        layer_reason="the last feature map at the deepest stride before the first upsampling",
        description=f"the ONNX file {path}"), path


class _Imported(nn.Module):
    """An imported graph `net` fed RGB images normalised with the network's statistics (the
    channels are reversed first for a network that reads BGR); `outputs`: its raw output's
    channel count (1: a probability map)."""

    def __init__(self, net: nn.Module, info: RealNetwork, outputs: int) -> None:
        super().__init__()
        self.net = net
        self.info = info
        self.outputs = outputs

    def prepare(self, x: Tensor) -> Tensor:
        """RGB -> the channel order the network reads."""
        return x.flip(1) if self.info.bgr else x


class DenseNetwork(_Imported):
    """A dense network: forward(x) -> {"out": (B, K, H, W) class scores}. A one-channel
    probability map p becomes two scores (threshold, p): text where p > threshold."""

    def scores(self, out: Tensor) -> Tensor:
        """The network's raw output -> (B, K, h, w) class scores."""
        if out.shape[1] == 1:
            return torch.cat([torch.full_like(out, self.info.threshold), out], dim=1)
        return out

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return {"out": self.scores(self.net(self.prepare(x)))}

    def split_at(self, layer: str) -> tuple:
        """(encode, decode) for head-only re-evaluation at `layer` (`ops.graph_split`)."""
        from ..ops.graph_split import split_graph

        prefix = "net."
        if not layer.startswith(prefix):
            raise ChanposError(f"layer {layer!r} is not inside the imported network (its "
                               f"layers start with {prefix!r}; see chanpos layers)")
        split = split_graph(self.net, layer[len(prefix):])
        return (lambda x: split.encode(self.prepare(x)),
                lambda f: self.scores(split.decode(f)))


class ClassNetwork(_Imported):
    """A classifier: forward(x) -> (B, K) scores."""

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.prepare(x))


def load_real_model(name: str, *, check: bool = True) -> tuple[nn.Module, RealNetwork]:
    """A built-in real network or an `onnx:PATH` file as a wrapped module in eval mode, and
    what chanpos knows of it; the conversion is checked against onnxruntime when `check`."""
    info, path = real_network(name)
    h, w = info.input_size
    net = load_onnx(path, check_input=(1, 3, h, w) if check else None)
    if not isinstance(net, fx.GraphModule):
        raise ChanposError(f"{path}: the conversion did not give a traced graph")
    with torch.no_grad():
        out = net(torch.zeros(1, 3, h, w))
    out = out[0] if isinstance(out, (tuple, list)) else out
    task = info.task or ("dense" if out.dim() == 4 else "classification")
    if task == "dense" and out.dim() != 4:
        raise ChanposError(f"{name}: expected a dense (B, K, H, W) output, got "
                           f"{tuple(out.shape)}")
    if info.task != task:
        info = RealNetwork(**{**info.__dict__, "task": task})
    wrapper = (DenseNetwork if task == "dense" else ClassNetwork)(net, info, int(out.shape[1]))
    return wrapper.eval(), info
