import json
from pathlib import Path

import pytest

from chanpos.data import load_streets
from chanpos.errors import ChanposError
from chanpos.experiments.attack import images_where
from chanpos.experiments.attack_study import study_cells, study_main

TINY = {"epochs": 1, "train_samples": 16, "val_samples": 6, "ns": [0, 2, 8], "region_ns": [4],
        "random_draws": 3, "width": 4, "image_size": [32, 64], "examples": 0, "batch_size": 8}


def test_study_cells_cover_the_issue_factors() -> None:
    _, cells = study_cells("quick")
    factors = {k for cell in cells.values() for k in cell}
    assert {"same_texture", "epochs", "image_size", "padding"} <= factors
    assert cells["circular"] == {"padding": "circular"}


@pytest.mark.slow
def test_study_runs_a_cell_and_writes_its_report(tmp_path: Path) -> None:
    folder, report = study_main("quick", tmp_path, dict(TINY), cells=["no_flip_aug"],
                                workers=1, log=lambda m: None)
    results = json.loads((folder / "results.json").read_text())
    (row,) = results["cells"]
    assert row["cell"] == "no_flip_aug" and row["figure4"] in (True, False)
    assert (folder / "cells" / "no_flip_aug" / "report.md").is_file()
    assert (folder / "study_curves.png").is_file() and "| no_flip_aug |" in report
    cell = json.loads((folder / "cells" / "no_flip_aug" / "results.json").read_text())
    assert cell["config"]["flip_prob"] == 0.0


def test_study_input_errors(tmp_path: Path) -> None:
    with pytest.raises(ChanposError, match="unknown study cell"):
        study_main("quick", tmp_path, dict(TINY), cells=["nope"])
    with pytest.raises(ChanposError, match="larger than the 32 channels"):
        study_main("quick", tmp_path, {**TINY, "ns": [0, 64]}, cells=["base"])
    with pytest.raises(ChanposError, match="circular padding of the head"):
        study_main("quick", tmp_path, dict(TINY), cells=["circular"])  # 2x4 maps, dilation 3
    assert not list(tmp_path.iterdir())


def test_rank_where_selects_images_by_class_and_side() -> None:
    val = load_streets(split="val", num_samples=60, height=32, width=64)
    left = images_where(val, "car:left")
    for i in left:
        lab = val.labels[i]
        assert (lab[:, :32] == 5).sum() > (lab[:, 32:] == 5).sum()
    with pytest.raises(ChanposError, match="unknown class 'tram'"):
        images_where(val, "tram:left")
