"""ONNX import: the two shipped PaddleOCR networks convert exactly (against onnxruntime), and
crafted files (not ONNX, a custom-domain operator, external data outside the folder) are one
line each, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnx2torch")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from chanpos.cli import app  # noqa: E402
from chanpos.errors import ChanposError  # noqa: E402
from chanpos.models.onnx_import import check_against_onnxruntime, load_onnx  # noqa: E402
from chanpos.models.real import REAL_NETWORKS, load_real_model  # noqa: E402


@pytest.mark.parametrize("name", ["ppocr-det", "ppocr-cls"])
def test_shipped_networks_equal_onnxruntime(name: str) -> None:
    info = REAL_NETWORKS[name]
    net = load_onnx(info.path())
    h, w = info.input_size
    for seed in range(2):
        diff = check_against_onnxruntime(net, info.path(), (2, 3, h, w), seed=seed)
        assert diff is not None and diff < 1e-4


def test_a_network_reading_bgr_gets_its_channels_reversed() -> None:
    model, info = load_real_model("ppocr-cls", check=False)
    x = torch.rand(1, 3, *info.input_size)
    with torch.no_grad():
        assert torch.equal(model(x), model.net(x.flip(1)))


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _conv_graph(path: Path, node: onnx.NodeProto, initializers: list) -> Path:
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializers)
    onnx.save(_model(graph), str(path))
    return path


def test_constant_nodes_become_weights(tmp_path: Path) -> None:
    w = numpy_helper.from_array(torch.ones(1, 1, 3, 3).numpy(), "w")
    const = helper.make_node("Constant", [], ["w"], value=w)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [const, conv], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "const.onnx"
    onnx.save(_model(graph), str(path))
    net = load_onnx(path, check_input=(1, 1, 4, 4))
    with torch.no_grad():
        out = net(torch.ones(1, 1, 4, 4))
    assert float(out[0, 0, 1, 1]) == 9.0 and float(out[0, 0, 0, 0]) == 4.0


def _refused(args: list[str]) -> str:
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    return text


def test_crafted_files_are_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 definitely not protobuf" * 50)
    assert "not an ONNX model" in _refused(["layers", "--model", f"onnx:{junk}",
                                            "--out", str(tmp_path / "o1")])

    custom = _conv_graph(tmp_path / "custom.onnx",
                         helper.make_node("Evil", ["x"], ["y"], domain="com.attacker"), [])
    assert "custom domain" in _refused(["layers", "--model", f"onnx:{custom}",
                                        "--out", str(tmp_path / "o2")])

    w = numpy_helper.from_array(torch.ones(1, 1, 3, 3).numpy(), "w")
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    entry = w.external_data.add()
    entry.key, entry.value = "location", "../../etc/passwd"
    outside = _conv_graph(tmp_path / "outside.onnx",
                          helper.make_node("Conv", ["x", "w"], ["y"]), [w])
    assert "outside the model's folder" in _refused(["layers", "--model", f"onnx:{outside}",
                                                     "--out", str(tmp_path / "o3")])
    with pytest.raises(ChanposError, match="no such"):
        load_onnx(tmp_path / "missing.onnx")
