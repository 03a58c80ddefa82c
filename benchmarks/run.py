"""chanpos speed benchmarks: each row times two ways of doing the same work in this process.

    python benchmarks/run.py                 # every row, prints a table, writes results/<date>.json
    python benchmarks/run.py --rows train_step,ranking --repeats 3

Rows (targets for 2 CPU cores):
  train_step   grid training step, images/s: chanpos (uint8 batches, on-device placement,
               channels_last) vs the authors' per-sample PIL transforms + Python placement
               loop (NCHW), full-width ResNet-18 GAPNet, 3x3 grid, batch 48      target >= 1.2x
  train_step_compiled   the same with chanpos's --compile (torch.compile; warm-up untimed)
  ranking      flip ranking, images/s: batched [x, flip(x)], channels_last vs batch-1, two
               NCHW forwards (the authors' main_rank_neurons.py scheme)           >= 2x
  optimizer_step  training steps/s of Table 2's quick model (width-8 ResNet-18, 32 px, batch
               64, 1 thread): chanpos' optimiser (multi-tensor Adam) vs torch's per-tensor Adam  >= 1.02x
  attack_curve K values of N: cached backbone + head per N vs whole network per N;
               ratio vs the bound K(b+h)/(b+Kh) from measured b, h         within 10 % of bound
  reproduce    `chanpos reproduce --profile quick` wall time and peak memory   <= 20 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authors_way import PILTileDataset, place_per_sample, rank_one_by_one  # noqa: E402
from common import StealMeter, interleaved_medians, median_seconds  # noqa: E402

from chanpos.data import GridPlacer, TileDataset, load_source  # noqa: E402
from chanpos.models import create_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """CPU model, core count, GPU and torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}, " \
           f"{torch.get_num_threads()} threads"


def row(name: str, ours: float, baseline: float, unit: str, target: str, met: bool,
        **extra: object) -> dict:
    """One results row; ratio > 1 means chanpos is faster."""
    higher_better = unit.endswith("/s")
    ratio = ours / baseline if higher_better else baseline / ours
    return {"name": name, "ours": round(ours, 3), "baseline": round(baseline, 3), "unit": unit,
            "ratio": round(ratio, 3), "target": target, "met": bool(met), **extra}


def bench_train_step(width: int, grid: int, batch: int, steps: int, repeats: int,
                     compile: bool = False) -> dict:
    """Images/s of one optimiser step, chanpos pipeline (+ torch.compile) vs the authors'."""
    data = load_source("shapes", split="train", num_samples=batch * (steps + 2))
    mean, std = data.mean, data.std

    def make(channels_last: bool):
        torch.manual_seed(0)
        model = create_model("gapnet", num_classes=grid * grid, width=width)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model, torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))

    from chanpos.models import channels_last_ok

    cl = channels_last_ok(make(False)[0])
    ours_model, ours_opt = make(cl)
    if compile:
        ours_model.compile()  # what `--compile` does; the warm-up call below compiles
    base_model, base_opt = make(False)
    placer = GridPlacer(grid, "location", mean, std, channels_last=cl)
    ours_loader = DataLoader(TileDataset(data, grid_size=grid), batch_size=batch, shuffle=True,
                             collate_fn=TileDataset.collate, drop_last=True)
    base_loader = DataLoader(PILTileDataset(data.images, data.labels, mean, std),
                             batch_size=batch, shuffle=True, drop_last=True)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(model, opt, x, y):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    def ours() -> None:
        for i, (tiles, labels, cells) in enumerate(ours_loader):
            x, y = placer(tiles, labels, cells, train=True)
            step(ours_model, ours_opt, x, y)
            if i + 1 == steps:
                break

    def baseline() -> None:
        for i, (tiles, _) in enumerate(base_loader):
            x, y = place_per_sample(tiles, grid)
            step(base_model, base_opt, x, y)
            if i + 1 == steps:
                break

    t_ours, t_base = interleaved_medians(ours, baseline, repeats=repeats)
    ips_ours, ips_base = steps * batch / t_ours, steps * batch / t_base
    return row("train_step_compiled" if compile else "train_step", ips_ours, ips_base,
               "images/s", ">= 1.2x", ips_ours / ips_base >= 1.2,
               detail=f"{'torch.compile, ' if compile else ''}width {width}, {grid}x{grid} grid, "
               f"batch {batch}, {steps} steps per timing, medians of {repeats}")


def bench_optimizer_step(repeats: int, steps: int = 15) -> dict:
    """Steps/s of a whole training step (forward, backward, Adam) with the optimiser
    `build_optimizer` makes (multi-tensor Adam) vs torch's default per-tensor Adam, same model."""
    from chanpos.training import OptimConfig, build_optimizer

    torch.set_num_threads(1)
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))

    def make(ours: bool):
        torch.manual_seed(0)
        model = create_model("classifier", backbone="paper_resnet18", num_classes=10, width=8)
        opt = (build_optimizer(model.parameters(), OptimConfig(lr=0.002), 1)[0] if ours
               else torch.optim.Adam(model.parameters(), lr=0.002, betas=(0.5, 0.999)))
        return model, opt

    def steps_of(model, opt):
        def run() -> None:
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        return run

    ours, base = steps_of(*make(True)), steps_of(*make(False))
    t_ours, t_base = interleaved_medians(ours, base, repeats=repeats)
    return row("optimizer_step", steps / t_ours, steps / t_base, "steps/s", ">= 1.02x",
               t_base / t_ours >= 1.02, detail=f"{steps} steps per timing, medians of {repeats}")


def bench_ranking(repeats: int, images: int = 16, size: tuple[int, int] = (64, 128)) -> dict:
    """Images/s of flip ranking on the quick attack model: batched [x, flip x] in channels_last
    vs batch-1, two NCHW forwards, flip through numpy (the authors' way)."""
    from chanpos.probes.channels import rank_position_channels

    torch.manual_seed(0)
    model = create_model("deeplabv3_small", num_classes=8, width=16, head_channels=64).eval()
    x = torch.randn(images, 3, *size)
    loader = [(x[i:i + 8],) for i in range(0, images, 8)]

    def backbone(t: torch.Tensor) -> torch.Tensor:
        return model.backbone(t)["out"]

    def ours() -> None:
        rank_position_channels(model, "backbone", loader, channels_last=True)

    def baseline() -> None:
        rank_one_by_one(backbone, x)

    with torch.no_grad():  # same scores both ways, checked once
        got = rank_position_channels(model, "backbone", loader, channels_last=True).scores
        ref = rank_one_by_one(backbone, x)
    same = bool(torch.allclose(got, ref, atol=1e-5, rtol=1e-4))
    t_ours, t_base = interleaved_medians(ours, baseline, repeats=repeats)
    return row("ranking", images / t_ours, images / t_base, "images/s", ">= 2x",
               t_base / t_ours >= 2.0, detail=f"deeplabv3_small (C=128) at {size[0]}x{size[1]}, "
               f"{images} images, batches of 8, same scores: {same}")


def bench_attack_curve(repeats: int, k: int = 10, size: tuple[int, int] = (64, 128)) -> dict:
    """Seconds for an attack curve of K values of N: cached backbone vs whole network per N."""
    from chanpos.probes.ablation import ablate_channels, attack_confusions, predict_labels, segmentation_parts
    from chanpos.probes.segmentation import ZONES, zone_confusions

    torch.manual_seed(0)
    classes = 8
    model = create_model("deeplabv3_small", num_classes=classes, width=16, head_channels=64).eval()
    parts = segmentation_parts(model)
    channels = 128
    batches = [(torch.randn(25, 3, *size), torch.randint(0, classes, (25, *size)))
               for _ in range(2)]
    g = torch.Generator().manual_seed(1)
    sets = [torch.randperm(channels, generator=g)[: (i * channels) // (2 * k)] for i in range(k)]

    @torch.no_grad()
    def cached() -> torch.Tensor:
        return attack_confusions(parts, batches, sets, classes)

    @torch.no_grad()
    def full() -> torch.Tensor:
        out = torch.zeros(len(sets), ZONES, classes, classes, dtype=torch.long)
        for i, s in enumerate(sets):
            for xb, yb in batches:
                with ablate_channels(model, "backbone", s):
                    pred = predict_labels(model(xb)["out"])
                out[i] += zone_confusions(pred, yb, classes, check=False)[0]
        return out

    @torch.no_grad()
    def backbone_pass() -> None:
        for xb, _ in batches:
            parts.encode(xb)

    feats = [parts.encode(xb) for xb, _ in batches]

    @torch.no_grad()
    def head_pass() -> None:
        for z, (_, yb) in zip(feats, batches, strict=False):
            z = z.clone()
            z[:, sets[-1]] = 0
            zone_confusions(predict_labels(parts.decode(z), size), yb, classes, check=False)

    same = bool(torch.equal(cached(), full()))
    b = median_seconds(backbone_pass, repeats=repeats)
    h = median_seconds(head_pass, repeats=repeats)
    t_cached, t_full = interleaved_medians(cached, full, repeats=repeats)
    bound = k * (b + h) / (b + k * h)
    ratio = t_full / t_cached
    return row("attack_curve", t_cached, t_full, "seconds", "within 10 % of bound",
               ratio >= 0.9 * bound, bound=round(bound, 3), backbone_s=round(b, 4),
               head_s=round(h, 4), detail=f"K={k} values of N, deeplabv3_small (C=128), "
               f"2 batches of 25 at {size[0]}x{size[1]}, identical confusions: {same}")


def bench_reproduce(out: Path) -> dict:
    """Wall time and peak RSS of `chanpos reproduce --profile quick` in a child process."""
    exe = Path(sys.executable).with_name("chanpos")
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), "reproduce", "--profile", "quick", "--out", str(out),
                           "--no-progress"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"reproduce failed:\n{proc.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    minutes = wall / 60
    return {"name": "reproduce_quick", "ours": round(minutes, 2), "baseline": None,
            "unit": "minutes", "ratio": None, "target": "<= 20 min", "met": minutes <= 20,
            "peak_memory_mb": round(peak_mb, 1)}


ROWS = ("train_step", "train_step_compiled", "optimizer_step", "ranking", "attack_curve", "reproduce")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", default=",".join(ROWS), help="comma list of rows to run")
    ap.add_argument("--repeats", type=int, default=5, help="timings per row (median reported)")
    ap.add_argument("--width", type=int, default=64,
                    help="GAPNet ResNet-18 width of the train_step row (64 = paper)")
    ap.add_argument("--steps", type=int, default=3, help="optimiser steps per train timing")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    rows = []
    wanted = args.rows.split(",")
    for name in wanted:
        if name not in ROWS:
            sys.exit(f"error: unknown row {name!r}; choose from {', '.join(ROWS)}")
    benches = {
        "train_step": lambda: bench_train_step(args.width, 3, 48, args.steps, args.repeats),
        "train_step_compiled": lambda: bench_train_step(args.width, 3, 48, args.steps,
                                                        args.repeats, compile=True),
        "optimizer_step": lambda: bench_optimizer_step(args.repeats),
        "ranking": lambda: bench_ranking(args.repeats),
        "attack_curve": lambda: bench_attack_curve(args.repeats),
        "reproduce": lambda: bench_reproduce(ROOT / "runs" / "bench"),
    }
    for name in ROWS:
        if name in wanted:
            with StealMeter() as steal:
                r = benches[name]()
            r["cpu_steal_pct"] = steal.pct
            rows.append(r)
            print_rows(rows[-1:])
    print("\n" + format_table(rows))
    doc = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{time.strftime('%Y-%m-%d')}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
    print(f"machine: {doc['machine']}\nwritten: {path}")


def format_table(rows: list[dict]) -> str:
    """Plain-text table of rows."""
    head = f"{'row':<16} {'ours':>12} {'baseline':>12} {'unit':<10} {'ratio':>7} {'target':<22} met"
    lines = [head, "-" * len(head)]
    for r in rows:
        base = "-" if r["baseline"] is None else f"{r['baseline']:.3f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        lines.append(f"{r['name']:<16} {r['ours']:>12.3f} {base:>12} {r['unit']:<10} {ratio:>7} "
                     f"{r['target']:<22} {'yes' if r['met'] else 'NO'}"
                     + (f"  (bound {r['bound']:.2f}x from b={r['backbone_s']:.3f} s, "
                        f"h={r['head_s']:.3f} s)" if "bound" in r else ""))
        if r.get("detail"):
            lines.append(f"{'':<16} {r['detail']}")
        if r.get("cpu_steal_pct") is not None:
            lines.append(f"{'':<16} CPU time stolen by the hypervisor during this row: "
                         f"{r['cpu_steal_pct']} %")
    return "\n".join(lines)


def print_rows(rows: list[dict]) -> None:
    """Progress line per finished row."""
    for r in rows:
        print(f"  done: {r['name']} -> ours {r['ours']} {r['unit']}, baseline {r['baseline']}",
              flush=True)


if __name__ == "__main__":
    main()
