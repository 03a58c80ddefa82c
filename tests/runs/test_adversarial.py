"""What an adversarial user hands over: every case is one line and exit 2 (or a valid run
with correct records), and no refused folder changes. The table grows with every command:
add a row for each new way in."""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch
from run_helpers import TINY1, cli, run


def _one_line(res, *fragments: str) -> None:
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for fragment in fragments:
        assert fragment in err, err


def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---- values that cannot fit: refused at once, naming the limit -----------------------------

CASES = [
    (["table1", "--grid-sizes", "1000"], "--grid-sizes must be a whole number from 2 to 64"),
    (["table1", "--object-grid-sizes", "65"], "--object-grid-sizes must be a whole number"),
    (["table1", "--profile", "smoke", "--location-train-samples", "1000000000"],
     "--location-train-samples 1000000000 asks for more training tiles"),
    (["table1", "--profile", "smoke", "--test-samples", "1000000000"],
     "draws at most 50000 images per split"),
    (["table1", "--profile", "smoke", "--batch-size", "100000000"], "of memory, but this machine"),
    (["audit", "--profile", "smoke", "--grid-size", "100"], "--grid-size must be a whole number"),
    (["audit", "--profile", "smoke", "--top-k", "1000000"],
     "--top-k 1000000 is not fewer than the 32 channels"),
    (["audit", "--profile", "smoke", "--train-samples", "100000"],
     "--train-samples 100000 asks for more training images"),
    (["rank", "--model", "gapnet", "--source", "shapes", "--samples", "1000000000"],
     "draws at most 50000 images per split"),
    (["rank", "--model", "gapnet", "--source", "mnist", "--samples", "5000"],
     "--samples 5000 asks for more mnist images than there are (1000)"),
    (["attack", "--profile", "smoke", "--eval-samples", "1000000000"],
     "streets draws at most"),
    (["table2", "--profile", "smoke", "--train-samples", "100000"],
     "--train-samples 100000 asks for more"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_a_value_that_cannot_fit_is_one_line_at_once(tmp_path: Path, args: list[str],
                                                     message: str) -> None:
    res = run([*args, "--out", str(tmp_path / "runs")])
    _one_line(res, message)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_shift_larger_than_the_image_is_one_line_in_consistency(tmp_path: Path) -> None:
    from chanpos.models import ModelSpec, save_model_checkpoint

    spec = ModelSpec("classifier", {"num_classes": 10, "width": 4}).with_meta(source="shapes")
    path = save_model_checkpoint(spec.build(), spec, tmp_path / "m.pt")
    res = run(["consistency", "--checkpoint", str(path), "--max-shift", "1000",
               "--out", str(tmp_path / "runs")])
    _one_line(res, "--max-shift 1000 moves 32x32 shapes images entirely out of view")


# ---- files chanpos reads back: validated by type, range and finiteness ---------------------

def _finished_copy(uninterrupted: Path, dst: Path) -> Path:
    shutil.copytree(uninterrupted, dst)
    (dst / "results.json").unlink()
    return dst


def _huge_number_in_config(folder: Path) -> str:
    text = (folder / "config.yaml").read_text().replace("width: 4", "width: " + "9" * 400)
    (folder / "config.yaml").write_text(text)
    return "width must be a whole number of at most"


def _huge_float_in_row(folder: Path) -> str:
    rows = (folder / "rows.partial.jsonl").read_text().splitlines()
    row = json.loads(rows[0])
    row["training"]["seconds"] = int("9" * 400)
    (folder / "rows.partial.jsonl").write_text(json.dumps(row) + "\n" + rows[1] + "\n")
    return "must be a finite number, got a number too large for a float"


def _nan_in_row(folder: Path) -> str:
    rows = (folder / "rows.partial.jsonl").read_text().splitlines()
    row = json.loads(rows[0])
    row["accuracy_pct"] = float("nan")
    (folder / "rows.partial.jsonl").write_text(json.dumps(row) + "\n" + rows[1] + "\n")
    return "accuracy_pct must be a finite number, got nan"


def _junk_correct_in_row(folder: Path) -> str:
    rows = (folder / "rows.partial.jsonl").read_text().splitlines()
    row = json.loads(rows[0])
    row["correct"] = "xyz"
    (folder / "rows.partial.jsonl").write_text(json.dumps(row) + "\n" + rows[1] + "\n")
    return "correct must be a string of 0s and 1s"


def _rows_file_is_a_folder(folder: Path) -> str:
    (folder / "rows.partial.jsonl").unlink()
    (folder / "rows.partial.jsonl").mkdir()
    return "rows.partial.jsonl is not a file; the run folder is damaged"


def _results_is_a_folder(folder: Path) -> str:
    (folder / "results.json").mkdir()
    return "results.json is not a file; the run folder is damaged"


def _unknown_config_version(folder: Path) -> str:
    text = (folder / "config.yaml").read_text().replace("config_version: 2",
                                                        "config_version: 7")
    (folder / "config.yaml").write_text(text)
    return "config_version 7 is not one this chanpos knows"


def _a_stale_lock_and_a_damaged_row(folder: Path) -> str:
    (folder / "run.lock").write_text("chanpos process 999999 on elsewhere")
    return _junk_correct_in_row(folder)


@pytest.mark.parametrize("damage", [
    _huge_number_in_config, _huge_float_in_row, _nan_in_row, _junk_correct_in_row,
    _rows_file_is_a_folder, _results_is_a_folder, _unknown_config_version,
    _a_stale_lock_and_a_damaged_row])
def test_a_damaged_file_is_one_line_and_the_folder_stays_byte_for_byte(
        tmp_path: Path, uninterrupted: Path, damage) -> None:
    folder = _finished_copy(uninterrupted, tmp_path / "copy")
    message = damage(folder)
    before = _snapshot(folder)
    res = run(["table1", "--resume", str(folder)])
    _one_line(res, message)
    assert _snapshot(folder) == before  # the lock file too, when there was one
    assert (folder / "run.lock").exists() == ("run.lock" in {p.name for p in before})


def _reproduce_folder(tmp_path: Path, table1_results: object) -> Path:
    import yaml

    from chanpos.experiments.reproduce.config import reproduce_config
    from chanpos.runs.folders import to_plain

    folder = tmp_path / "reproduce-x"
    (folder / "table1").mkdir(parents=True)
    cfg = to_plain(reproduce_config("smoke", {}))
    (folder / "config.yaml").write_text(yaml.safe_dump(
        {"command": "reproduce", "config_version": 2, **cfg}, sort_keys=False))
    (folder / "table1" / "results.json").write_text(json.dumps(table1_results))
    return folder


@pytest.mark.parametrize(("results", "message"), [
    ({"verdicts": [1, 2, "x"], "rows": []}, "is damaged (a verdict: a verdict is a mapping"),
    ({"verdicts": [], "rows": 5}, "is damaged (no verdict on table1.location, which table1 "
                                  "always judges)"),
    ({"verdicts": "none"}, "is not a chanpos results file"),
])
def test_a_sub_run_without_its_verdicts_is_damaged(tmp_path: Path, results: object,
                                                   message: str) -> None:
    folder = _reproduce_folder(tmp_path, results)
    before = _snapshot(folder)
    res = run(["reproduce", "--resume", str(folder)])
    _one_line(res, "table1/results.json " + message)
    assert _snapshot(folder) == before


def test_a_missing_setting_names_the_folder_it_is_missing_from(tmp_path: Path,
                                                               uninterrupted: Path) -> None:
    folder = _finished_copy(uninterrupted, tmp_path / "copy")
    text = [line for line in (folder / "config.yaml").read_text().splitlines()
            if not line.startswith("width:")]
    (folder / "config.yaml").write_text("\n".join(text) + "\n")
    res = run(["table1", "--resume", str(folder)])
    _one_line(res, f"{folder / 'config.yaml'}: the setting 'width' is missing")


def test_a_state_dict_that_is_a_list_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save({"chanpos_model": {"name": "classifier", "kwargs": {"num_classes": 10}},
                "state_dict": [1, 2, 3]}, path)
    for args in (["consistency", "--source", "shapes"], ["audit", "--profile", "smoke"],
                 ["rank"]):
        res = run([*args, "--checkpoint", str(path), "--out", str(tmp_path / "runs")])
        _one_line(res, "'state_dict' entry is not a mapping of parameter names to tensors")


# ---- writes that fail, permissions, exit status ---------------------------------------------

def test_a_full_disk_during_torch_save_is_one_line_and_the_folder_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = torch.save

    def full(obj, f, *args, **kwargs):
        if str(f).endswith(".tmp") and ".model.pt." in str(f):
            raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 64 "
                               "vs 0: PytorchStreamWriter failed writing file data/0: file "
                               "write failed")
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full)
    res = run(["table1", *TINY1, "--out", str(tmp_path)])
    _one_line(res, "writing failed (is the disk full?)", "--resume")
    (folder,) = tmp_path.iterdir()
    monkeypatch.setattr(torch, "save", real)
    res = run(["table1", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output


def test_download_is_a_command_line_permission_only(tmp_path: Path, uninterrupted: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    def network(*args, **kwargs):
        raise AssertionError("chanpos reached for the network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", network)
    folder = _finished_copy(uninterrupted, tmp_path / "copy")
    root = tmp_path / "nowhere" / "data"
    text = (folder / "config.yaml").read_text()
    text = re.sub(r"(?m)^source: .*$", "source: cifar10", text.replace(
        "download: false", "download: true").replace("data_root: null", f"data_root: {root}"))
    (folder / "config.yaml").write_text(text)
    res = run(["table1", "--resume", str(folder)])
    _one_line(res, f"--data-root {root} does not exist")
    assert not root.exists() and not root.parent.exists()


@pytest.mark.slow
def test_a_signal_after_the_last_write_exits_0_saying_the_run_is_complete(
        tmp_path: Path) -> None:
    proc = cli(["table1", *TINY1, "--out", str(tmp_path)], CHANPOS_STALL_AFTER="results.json:1")
    import time

    end = time.time() + 600
    while not list(tmp_path.glob("*/results.json")) and time.time() < end:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    (folder,) = tmp_path.iterdir()
    assert err.strip().splitlines()[-1] == (
        f"terminated after the run had finished: {folder} is complete (results.json written)")
