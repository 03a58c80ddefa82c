"""Every command meets bad input the same way: one line on stderr naming the problem and the
fix, exit code 2, no traceback, and no run folder left behind."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chanpos.cli import app

TINY = {
    "table1": ["--max-epochs", "1", "--location-train-samples", "8", "--object-train-samples",
               "8", "--val-samples", "8", "--test-samples", "4", "--width", "4"],
    "table2": ["--max-epochs", "1", "--train-samples", "8", "--val-samples", "8",
               "--test-samples", "4", "--width", "4"],
    "attack": ["--max-epochs", "1", "--train-samples", "4", "--eval-samples", "4",
               "--val-samples", "4", "--width", "4", "--image-size", "32,64", "--ns", "0,4",
               "--region-ns", "4", "--pretrain", "none", "--rank-where", "all"],
    "reproduce": [],
}

# (command, arguments, text the one line must contain); FILE = an existing plain file,
# DIR = an existing folder, MISSING = a path that does not exist
CASES = [
    # out of range
    ("table1", ["--max-epochs", "0"], "--max-epochs must be a whole number >= 1"),
    ("table1", ["--grid-sizes", "1"], "--grid-sizes must be a whole number from 2 to 64"),
    ("table1", ["--seeds", "-1"], "--seeds must be a whole number from 0"),
    ("table1", ["--seeds", "1,1"], "--seeds has duplicates: 1, 1"),
    ("table1", ["--patience", "1"], "--patience must be a whole number >= 2"),
    ("table1", ["--bn-batches", "-1"], "--bn-batches must be a whole number >= 0"),
    ("table1", ["--jobs", "0"], "--jobs must be a whole number >= 1"),
    ("table1", ["--num-nodes", "0"], "--num-nodes must be a whole number >= 1"),
    ("table1", ["--devices", "two"], "--devices takes a count"),
    ("table2", ["--pairs", "0"], "--pairs must be a whole number >= 1"),
    ("table2", ["--seeds", "0,-3"], "--seeds must be a whole number from 0"),
    ("attack", ["--random-draws", "1"], "--random-draws must be a whole number >= 2"),
    ("attack", ["--ns", "0,999"], "N = 999 is larger than the 32 channels"),
    ("rank", ["--model", "resnet18", "--samples", "0"], "--samples must be a whole number >= 1"),
    ("consistency", ["--checkpoint", "FILE", "--pairs", "0"], "--pairs must be a whole number"),
    ("reproduce", ["--seed", "-1"], "--seed must be a whole number from 0"),
    # not a number
    ("table1", ["--location-lr", "nan"], "--location-lr must be a finite number > 0, got nan"),
    ("table2", ["--lam", "nan"], "--lam must be a finite number >= 0, got nan"),
    ("table2", ["--lr", "inf"], "--lr must be a finite number > 0, got inf"),
    ("attack", ["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    # wrong type
    ("table1", ["--max-epochs", "three"], "--max-epochs: cannot read 'three' as a whole number"),
    ("table2", ["--seeds", "a,b"], "--seeds: cannot read 'a,b'"),
    ("attack", ["--image-size", "32"], "--image-size takes 2 comma-separated values (H,W)"),
    ("rank", ["--model", "resnet18", "--top", "x"], "--top: cannot read 'x' as a whole number"),
    ("table1", ["--lambda", "1"], "No such option: --lambda"),
    # unknown names
    ("table1", ["--source", "colour"], "unknown source 'colour'"),
    ("table1", ["--accelerator", "abacus"], "unknown accelerator 'abacus'"),
    ("table1", ["--accelerator", "gpu"], "torch sees no GPU"),
    ("table2", ["--strategy", "telepathy"], "unknown strategy 'telepathy'"),
    ("attack", ["--pretrain", "colour"], "unknown pretraining source 'colour'"),
    ("reproduce", ["--profile", "huge"], "unknown profile 'huge'"),
    ("reproduce", ["--precision", "4-bit"], "unknown precision '4-bit'"),
    # values that type-check but cannot run with the data
    ("table2", ["--max-shift", "1000"], "--max-shift 1000 moves 32x32 mnist images entirely out"),
    ("table1", ["--val-samples", "3999"], "--val-samples 3999 leaves no training tiles"),
    ("table1", ["--batch-size", "1"], "--batch-size must be at least 2"),
    ("table1", ["--location-train-samples", "1"], "BatchNorm needs batches of at least 2"),
    ("rank", ["--model", "classifier", "--layer", "fc", "--source", "shapes", "--samples", "4"],
     "layer 'fc' gives (2, 10) outputs, not (B, C, H, W) feature maps"),
    ("attack", ["--rank-images", "BINARY", "--rank-where", "all"], "is not a text file"),
    ("attack", ["--model", "deeplabv3_resnet50", "--pretrained-backbone"],
     "--pretrained-backbone downloads ImageNet weights: add --download"),
    ("attack", ["--lr-drops", "1", "--schedule", "cosine"], "which a cosine schedule would undo"),
    # missing files and files of the wrong kind
    ("table1", ["--data-root", "MISSING"], "does not exist"),
    ("table1", ["--data-root", "FILE"], "is a file; give the folder"),
    ("table1", ["--source", "cifar10", "--data-root", "DIR"], "cifar10"),
    ("attack", ["--checkpoint", "MISSING"], "does not exist"),
    ("attack", ["--checkpoint", "DIR"], "is a folder; give the checkpoint file itself"),
    ("attack", ["--checkpoint", "FILE"], "is not a loadable PyTorch checkpoint"),
    ("attack", ["--rank-images", "MISSING"], "does not exist"),
    ("consistency", ["--checkpoint", "MISSING"], "does not exist"),
    ("consistency", ["--checkpoint", "FILE"], "is not a loadable PyTorch checkpoint"),
    ("rank", ["--model", "resnet18", "--checkpoint", "MISSING"], "does not exist"),
    ("table1", ["--resume", "MISSING"], "no such run folder"),
    ("table2", ["--resume", "DIR"], "has no config.yaml"),
    # unwritable output
    ("table1", ["--out", "FILE"], "is a file; give a folder for the run folders"),
    ("table2", ["--out", "FILE/runs"], "cannot create it"),
    ("rank", ["--model", "resnet18", "--out", "FILE"], "is a file; give a folder"),
]


@pytest.mark.parametrize(("command", "args", "message"), CASES,
                         ids=[f"{c}:{' '.join(a)}" for c, a, _ in CASES])
def test_bad_input_is_one_line_exit_2_no_traceback_no_folder(
        tmp_path: Path, command: str, args: list[str], message: str) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("not what was asked for\n")
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)))
    folder = tmp_path / "folder"
    folder.mkdir()
    out = tmp_path / "runs"
    swap = {"FILE": str(plain), "DIR": str(folder), "MISSING": str(tmp_path / "missing"),
            "BINARY": str(binary)}
    args = [swap.get(a, a.replace("FILE", str(plain))) for a in args]
    tail = ["--out", str(out)] if "--out" not in args else []
    res = CliRunner().invoke(app, [command, *TINY.get(command, []), *args, *tail])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and message in err, err
    assert "Traceback" not in res.output
    assert not out.exists() or not any(out.iterdir())
    expected = ["binary.bin", "folder", "plain.txt"] + (["runs"] if out.exists() else [])
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
