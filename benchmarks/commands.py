"""Wall time and peak memory of the commands a researcher runs on a model they bring.

    python benchmarks/commands.py [--rows detector,audit_resnet18,attack_checkpoint] [--out DIR]

Rows (targets for 2 CPU cores, quick profiles):
  detector           `chanpos attack-real`: the attack on PaddleOCR's DBNet over the default
                     rendered-text folds (ranking, importance control, curves, detection)
                                                                             <= 300 s
  audit_resnet18     `chanpos audit` of a torchvision resnet18 state dict (written here, random
                     weights: the cost does not depend on them) on the 32 px shapes
                                                                     <= 300 s, <= 2 GB
  attack_checkpoint  `chanpos attack --checkpoint` of a deeplabv3_small model.pt of the quick
                     profile's architecture (C = 64; trained here first for one smoke epoch,
                     untimed): ranking, control and curves on the quick evaluation images
                                                                             <= 180 s
Each command runs in its own process (peak resident set from `wait4`). Prints a table and
writes benchmarks/results/commands-<date>.json (the latest run of each row that day).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_command  # noqa: E402

TARGETS = {"detector": (300.0, None), "audit_resnet18": (300.0, 2.0),
           "attack_checkpoint": (180.0, None)}


def _argv(row: str, out: Path) -> list[str]:
    """The timed command line of `row` (its untimed preparation done here)."""
    common = ["--no-progress", "--out", str(out)]
    if row == "detector":
        return ["attack-real", "--profile", "quick", *common]
    if row == "audit_resnet18":
        import torch
        import torchvision

        path = out / "resnet18.pth"
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18(weights=None, num_classes=10).state_dict(), path)
        return ["audit", "--model", "resnet18", "--checkpoint", str(path), "--source", "shapes",
                *common]
    if row == "attack_checkpoint":
        trained = out / "trained"
        # the quick profile's architecture (C = 64 at the head input), trained briefly
        code, _, _, line = run_command(["attack", "--profile", "smoke", "--width", "8",
                                        "--head-channels", "32", "--no-progress",
                                        "--out", str(trained)])
        if code != 0:
            raise SystemExit(f"training the model to attack failed: {line}")
        model = next(trained.glob("attack-*/cells/seed*/model.pt"))
        return ["attack", "--checkpoint", str(model), *common]
    raise SystemExit(f"unknown row {row!r}; choose from {', '.join(TARGETS)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(TARGETS), help="comma-separated rows")
    parser.add_argument("--out", type=Path, default=None, help="parent of the run folders")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-commands-"))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for row in args.rows.split(","):
        argv = _argv(row, out)
        code, seconds, gb, line = run_command(argv)
        limit_s, limit_gb = TARGETS[row]
        met = code == 0 and seconds <= limit_s and (limit_gb is None or gb <= limit_gb)
        results.append({"row": row, "command": "chanpos " + " ".join(argv), "exit": code,
                        "seconds": round(seconds, 1), "peak_gb": round(gb, 2),
                        "target_s": limit_s, "target_gb": limit_gb, "met": met,
                        "last_line": line})
        print(f"{row}: exit {code}, {seconds:.0f} s, peak {gb:.2f} GB", flush=True)
    print("\n| row | exit | seconds (target) | peak GB (target) | met |")
    print("|---|---|---|---|---|")
    for r in results:
        gb_target = "–" if r["target_gb"] is None else f"{r['target_gb']:g}"
        print(f"| {r['row']} | {r['exit']} | {r['seconds']:.0f} (<= {r['target_s']:g}) | "
              f"{r['peak_gb']:.2f} (<= {gb_target}) | {'yes' if r['met'] else 'no'} |")
    date = time.strftime("%Y-%m-%d")
    folder = Path(__file__).parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"commands-{date}.json"
    # a day's file keeps the latest measurement of every row run that day
    kept = json.loads(path.read_text())["rows"] if path.is_file() else []
    rows = {r["row"]: r for r in kept} | {r["row"]: r for r in results}
    doc = {"date": date, "cores": os.cpu_count(), "rows": [rows[k] for k in TARGETS if k in rows]}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
