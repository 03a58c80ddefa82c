"""The run lifecycle every command shares: resume (exact, saved settings win, finished runs
untouched), Ctrl-C, file permissions, and the folder kept or removed as it should be."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_helpers import TINY1 as TINY
from run_helpers import cli as _cli
from run_helpers import rows as _rows
from run_helpers import run


def _wait_for(path_glob: str, root: Path, proc: subprocess.Popen, timeout: float = 300) -> Path:
    end = time.time() + timeout
    while time.time() < end:
        hits = list(root.glob(path_glob))
        if hits:
            return hits[0]
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {path_glob} appeared: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError(f"{path_glob} never appeared")


@pytest.mark.slow
def test_sigkill_mid_cell_then_resume_gives_the_uninterrupted_rows(tmp_path: Path,
                                                                   uninterrupted: Path) -> None:
    proc = _cli(["table1", *TINY, "--out", str(tmp_path)])
    ckpt = _wait_for("*/cells/location-k2-zeros-gapnet-seed0/checkpoints/last.ckpt", tmp_path,
                     proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    folder = ckpt.parents[3]
    assert not (folder / "results.json").exists() and not (folder / "rows.partial.jsonl").exists()
    res = run(["table1", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert _rows(folder) == _rows(uninterrupted)


@pytest.mark.slow
def test_ctrl_c_keeps_the_folder_says_how_to_resume_and_resume_is_exact(
        tmp_path: Path, uninterrupted: Path) -> None:
    proc = _cli(["table1", *TINY, "--out", str(tmp_path)])
    _wait_for("*/rows.partial.jsonl", tmp_path, proc)  # the first cell has finished
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    (folder,) = tmp_path.iterdir()
    assert err.strip().splitlines()[-1] == f"interrupted; resume with: chanpos table1 --resume {folder}"
    assert not (folder / "run.lock").exists()  # the lock went with the process
    res = run(["table1", "--resume", str(folder), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "finished earlier" in res.output
    assert _rows(folder) == _rows(uninterrupted)


@pytest.mark.slow
def test_ctrl_c_before_anything_resumable_removes_the_folder(tmp_path: Path) -> None:
    # the run stalls right after writing config.yaml, before any cell can write a checkpoint
    proc = _cli(["table1", *TINY, "--out", str(tmp_path)], CHANPOS_STALL_AFTER="config.yaml:1")
    _wait_for("*/config.yaml", tmp_path, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "the run folder was removed" in err
    assert not list(tmp_path.iterdir())


def test_resume_rules(uninterrupted: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / uninterrupted.name
    shutil.copytree(uninterrupted, folder)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    # a finished run: nothing to do, nothing rewritten
    res = run(["table1", "--resume", str(folder)])
    assert res.exit_code == 0 and res.output.strip() == f"already finished: {folder}"
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}
    assert after == before
    # an unfinished one: a flag that differs from the saved settings is a one-line error
    before_rows = _rows(folder)
    (folder / "results.json").rename(folder / "results.json.bak")
    try:
        res = run(["table1", "--resume", str(folder), "--max-epochs", "5", "--seeds", "3"])
        assert res.exit_code == 2
        assert res.stderr.strip().splitlines() == [
            f"error: --resume {folder}: --max-epochs, --seeds differ from the saved "
            "configuration (the saved one wins); drop the flag or start a new run"]
        res = run(["table1", "--resume", str(folder), "--profile", "paper"])
        assert res.exit_code == 2 and "--profile differs from the saved" in res.stderr
        # the same values as saved, and runtime-only flags (workers, progress), are fine
        res = run(["table1", "--resume", str(folder), "--max-epochs", "3", "--seeds", "0",
                   "--no-progress", "--workers", "1"])
        assert res.exit_code == 0, res.output
        assert _rows(folder) == before_rows  # rebuilt from the recorded rows, nothing retrained
    finally:
        (folder / "results.json.bak").unlink(missing_ok=True)
    # another command's folder, or no folder at all
    res = run(["table2", "--resume", str(folder)])
    assert res.exit_code == 2 and "is a table1 run folder, not a table2 one" in res.stderr
    res = run(["table1", "--resume", str(folder / "nope")])
    assert res.exit_code == 2 and "no such run folder" in res.stderr


def test_run_files_follow_the_umask(tmp_path: Path) -> None:
    code = ("import os, sys; os.umask(0o027); from chanpos.cli import main; "
            "sys.argv = ['chanpos', *sys.argv[1:]]; main()")
    args = ["table1", "--models", "gapnet", "--paddings", "zeros", "--grid-sizes", "2",
            "--tasks", "location", "--location-train-samples", "16", "--val-samples", "8",
            "--test-samples", "8", "--max-epochs", "1", "--seeds", "0", "--width", "4",
            "--jobs", "1", "--no-progress", "--out", str(tmp_path)]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    (folder,) = tmp_path.iterdir()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {"results.json", "report.md", "config.yaml", "table1.png", "model.pt"} <= {
        p.name for p in files}
    for p in files:
        assert p.stat().st_mode & 0o777 == 0o640, p


def test_a_full_disk_is_one_line_exit_2_and_no_half_folder(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import chanpos.files

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(chanpos.files, "atomic_save", full)
    res = run(["table1", "--profile", "smoke", "--jobs", "1", "--no-progress",
               "--out", str(tmp_path)])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: No space left on device writing")
    assert "--resume" in err and not list(tmp_path.iterdir())
