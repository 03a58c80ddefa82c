"""Peak memory of a smoke run of every command, and how fast an oversize run is refused.

    python benchmarks/smoke_memory.py [--out DIR]

Each command runs in its own process (its largest resident set, children included, from
`getrusage`); `rank` and `consistency` use a model file the table1 and table2 smoke runs
wrote. Prints a table and writes benchmarks/results/smoke-memory-<date>.json. The target: every
smoke run under 2 GB, every refusal of a run that cannot fit in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_command  # noqa: E402

LIMIT_GB, REFUSE_S = 2.0, 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="parent of the run folders")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="smoke-memory-"))
    common = ["--profile", "smoke", "--no-progress", "--out", str(out)]
    rows = []
    for name, argv in [
        ("table1", ["table1", *common]), ("table2", ["table2", *common]),
        ("audit", ["audit", *common]), ("attack", ["attack", *common]),
        ("attack --study", ["attack", "--study", *common]),
        ("reproduce", ["reproduce", *common]),
    ]:
        rows.append((name, *run_command(argv)))
        print(f"{name}: exit {rows[-1][1]}, {rows[-1][2]:.0f} s, peak {rows[-1][3]:.2f} GB",
              flush=True)
    table1_model = next(out.glob("table1-*/cells/*gapnet*/model.pt"))
    table2_model = next(out.glob("table2-*/cells/*/model.pt"))
    for name, argv in [
        ("rank", ["rank", "--checkpoint", str(table1_model), "--out", str(out)]),
        ("consistency", ["consistency", "--checkpoint", str(table2_model), "--out", str(out)]),
    ]:
        rows.append((name, *run_command(argv)))
        print(f"{name}: exit {rows[-1][1]}, {rows[-1][2]:.0f} s", flush=True)
    refusals = []
    for name, argv in [
        ("table1 --grid-sizes 1000", ["table1", "--grid-sizes", "1000", "--out", str(out)]),
        ("table1 --batch-size 100000000", ["table1", *common, "--batch-size", "100000000"]),
        ("audit --grid-size 100", ["audit", *common, "--grid-size", "100"]),
        ("rank --samples 1000000000", ["rank", "--model", "gapnet", "--source", "shapes",
                                       "--samples", "1000000000", "--out", str(out)]),
    ]:
        code, seconds, _, line = run_command(argv)
        refusals.append((name, code, seconds, line))
    print(f"\n| command (smoke profile) | exit | seconds | peak memory GB (<= {LIMIT_GB:g}) |")
    print("|---|---|---|---|")
    for name, code, seconds, gb, _ in rows:
        print(f"| {name} | {code} | {seconds:.0f} | {gb:.2f} |")
    print(f"\n| refused run | exit | seconds (<= {REFUSE_S:g}) | its line |")
    print("|---|---|---|---|")
    for name, code, seconds, line in refusals:
        print(f"| {name} | {code} | {seconds:.1f} | {line} |")
    doc = {"date": time.strftime("%Y-%m-%d"),
           "smoke": [dict(zip(("command", "exit", "seconds", "peak_gb", "last_line"), r,
                              strict=True)) for r in rows],
           "refused": [dict(zip(("command", "exit", "seconds", "line"), r, strict=True))
                       for r in refusals]}
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"smoke-memory-{doc['date']}.json").write_text(json.dumps(doc, indent=2) + "\n")
    bad = [r for r in rows if r[1] != 0 or r[3] > LIMIT_GB] + [
        r for r in refusals if r[1] != 2 or r[2] > REFUSE_S]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
