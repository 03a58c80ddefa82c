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
    assert got == spec and torch.allclose(loaded(x), model(x))


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
