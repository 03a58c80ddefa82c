from pathlib import Path

import pytest
import torch

from chanpos.errors import ChanposError
from chanpos.models import create_model, load_model_checkpoint, save_model_checkpoint


def test_roundtrip_rebuilds_architecture(tmp_path: Path) -> None:
    spec = {"name": "gapnet", "kwargs": {"num_classes": 4, "width": 4, "padding": "partial"}}
    model = create_model(spec["name"], **spec["kwargs"]).eval()
    path = save_model_checkpoint(model, spec, tmp_path / "m.pt")
    loaded, got = load_model_checkpoint(path, expect="gapnet")
    x = torch.randn(1, 3, 64, 64)
    assert (got.name, got.kwargs) == (spec["name"], spec["kwargs"])
    assert torch.allclose(loaded(x), model(x))


def test_a_model_file_keeps_what_the_model_was_trained_on(tmp_path: Path) -> None:
    from chanpos.models import ModelSpec

    spec = ModelSpec("gapnet", {"num_classes": 4, "width": 4}).with_meta(
        source="mnist", image_size=(64, 64), mean=(0.1, 0.1, 0.1), std=(0.3, 0.3, 0.3),
        grid_size=2, class_names=("a", "b", "c", "d"))
    path = save_model_checkpoint(spec.build(), spec, tmp_path / "m.pt")
    _, got = load_model_checkpoint(path)
    assert got == spec
    # a file of chanpos 0.1 has no metadata: everything unknown, nothing refused
    old = tmp_path / "old.pt"
    torch.save({"chanpos_model": {"name": "gapnet", "kwargs": {"num_classes": 4, "width": 4}},
                "state_dict": torch.load(path)["state_dict"]}, old)
    _, got = load_model_checkpoint(old)
    assert got.meta.source is None and got.meta.grid_size is None


def test_a_state_dict_that_is_not_a_mapping_of_tensors_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save({"chanpos_model": {"name": "gapnet", "kwargs": {"num_classes": 4}},
                "state_dict": [1, 2, 3]}, path)
    with pytest.raises(ChanposError, match="'state_dict' entry is not a mapping") as info:
        load_model_checkpoint(path)
    assert "\n" not in str(info.value)


def test_bad_checkpoints_are_user_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ChanposError, match="not a loadable PyTorch checkpoint"):
        load_model_checkpoint(junk)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(1)}, plain)
    with pytest.raises(ChanposError, match="not a chanpos checkpoint"):
        load_model_checkpoint(plain)
    spec = {"name": "gapnet", "kwargs": {"num_classes": 4, "width": 4}}
    path = save_model_checkpoint(create_model("gapnet", num_classes=4, width=4), spec, tmp_path / "g.pt")
    with pytest.raises(ChanposError, match="holds a 'gapnet' model"):
        load_model_checkpoint(path, expect="classifier")
    wrong = {"name": "gapnet", "kwargs": {"num_classes": 4, "width": 8}}
    torch.save({"chanpos_model": wrong, "state_dict": torch.load(path)["state_dict"]}, tmp_path / "w.pt")
    with pytest.raises(ChanposError, match="does not match its declared architecture"):
        load_model_checkpoint(tmp_path / "w.pt")
    with pytest.raises(ChanposError, match="does not exist"):
        load_model_checkpoint(tmp_path / "missing.pt")
