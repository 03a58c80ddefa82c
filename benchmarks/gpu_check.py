"""GPU check: paper-size models on offline data, chanpos's fast path vs the authors' setup.

    bash benchmarks/gpu_check.sh                 # on a GPU machine (about 5 minutes)
    python benchmarks/gpu_check.py --smoke       # tiny sizes on a CPU: checks the script runs

Prints, per row, images/s and peak GPU memory of the authors' setup (fp32, NCHW, batch 48,
per-sample placement on the host) and of chanpos's (on-device placement, bf16 autocast,
channels_last, optionally torch.compile and a larger batch), their ratio, and the projected wall
time of the full paper profile of Table 1 at each setting. Targets: >= 3x images/s on
the training step, >= 10x on ranking (DeepLabv3-ResNet-50, 512x1024).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authors_way import place_per_sample  # noqa: E402

from chanpos.data import GridPlacer, make_shapes  # noqa: E402
from chanpos.models import channels_last_ok, create_model  # noqa: E402
from chanpos.probes.channels import rank_position_channels  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_mb(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def time_steps(fn, steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of `fn` (mean over `steps` after `warmup`)."""
    for _ in range(warmup):
        fn()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / steps


def train_step_row(k: int, width: int, device: torch.device, steps: int, warmup: int,
                   fast: dict) -> tuple[float, float]:
    """Images/s and peak MB of one optimiser step for one setting of the grid task."""
    batch = fast.get("batch", 48)
    tiles_u8, labels = make_shapes(batch, seed=k)
    torch.manual_seed(0)
    model = create_model("gapnet", num_classes=k * k, width=width).to(device)
    cl = fast.get("channels_last", False) and channels_last_ok(model)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
    run = torch.compile(model) if fast.get("compile") else model
    mean, std = (0.5,) * 3, (0.25,) * 3
    placer = GridPlacer(k, "location", mean, std, channels_last=cl)
    dtype = torch.bfloat16 if fast.get("bf16") else None
    if fast.get("on_device"):
        tiles_dev, labels_dev = tiles_u8.to(device), labels.to(device)

        def inputs():
            return placer(tiles_dev, labels_dev, train=True)
    else:
        tiles_f = placer.normalise(tiles_u8)

        def inputs():
            x, y = place_per_sample(tiles_f, k)
            return x.to(device), y.to(device)

    def step() -> None:
        x, y = inputs()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(run(x), y)
        loss.backward()
        opt.step()

    reset_peak(device)
    sec = time_steps(step, steps, warmup, device)
    return batch / sec, peak_mb(device)


def ranking_row(device: torch.device, size: tuple[int, int], images: int, fast: bool,
                steps: int) -> tuple[float, float]:
    """Images/s of flip ranking on DeepLabv3-ResNet-50 (OS16): batch-1 fp32 vs batched bf16."""
    torch.manual_seed(0)
    model = create_model("deeplabv3_resnet50", num_classes=19, output_stride=16).to(device).eval()
    x = torch.randn(images, 3, *size, device=device)
    reset_peak(device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
        loader = [(x[i:i + 8],) for i in range(0, images, 8)]

        def run() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16):
                rank_position_channels(model, "backbone", loader)
    else:
        @torch.no_grad()
        def run() -> None:
            for i in range(images):
                xi = x[i:i + 1]
                a = model.backbone(xi)["out"].mean(dim=(2, 3))
                b = model.backbone(torch.flip(xi, dims=[3]))["out"].mean(dim=(2, 3))
                _ = (a - b).abs()
    sec = time_steps(run, steps, 1, device)
    return images / sec, peak_mb(device)


def projected_table1_hours(ips: dict[int, float], train_images: int = 50_000) -> float:
    """Hours of training for the paper profile of Table 1 (4 paddings x 2 models per task)."""
    seconds = 0.0
    for rate in ips.values():
        seconds += 4 * 2 * (20 + 100) * train_images / rate  # location 20 + object 100 epochs
    return seconds / 3600


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, any device (tests the script)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and not args.smoke:
        sys.exit("error: no GPU found; run with --smoke to check the script on a CPU")
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}")
    if args.smoke:
        width, grids, size, images, steps, warmup = 8, (2,), (64, 128), 4, 1, 1
    else:
        width, grids, size, images, steps, warmup = 64, (3, 5, 7), (512, 1024), 16, args.steps, args.warmup
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    settings = {
        "authors (fp32, NCHW, batch 48, host placement)": {},
        "chanpos bf16 + channels_last, batch 48": {"on_device": True, "bf16": True,
                                                   "channels_last": True},
        "chanpos bf16 + channels_last, batch 256": {"on_device": True, "bf16": True,
                                                    "channels_last": True, "batch": 256},
    }
    if not args.no_compile and device.type == "cuda":
        settings["chanpos bf16 + channels_last + compile, batch 256"] = {
            "on_device": True, "bf16": True, "channels_last": True, "batch": 256, "compile": True}
    print(f"\n== Table 1 training step: GAPNet ResNet-18 width {width}, 32 px tiles ==")
    print(f"{'setting':<52} {'grid':>4} {'images/s':>10} {'peak MB':>9} {'vs authors':>10}")
    rates: dict[str, dict[int, float]] = {}
    for label, fast in settings.items():
        rates[label] = {}
        for k in grids:
            ips, mem = train_step_row(k, width, device, steps, warmup, fast)
            rates[label][k] = ips
            base = rates[next(iter(settings))][k]
            print(f"{label:<52} {k:>4} {ips:>10.1f} {mem:>9.0f} {ips / base:>9.2f}x", flush=True)
    print("\nprojected training time of the paper profile of Table 1 (CIFAR-10, 50k tiles, "
          "grids " + ",".join(map(str, grids)) + "):")
    for label in settings:
        print(f"  {label:<52} {projected_table1_hours(rates[label]):8.1f} GPU-hours")

    print(f"\n== Ranking: DeepLabv3-ResNet-50 OS16 at {size[0]}x{size[1]}, {images} images ==")
    base_ips, base_mem = ranking_row(device, size, images, False, max(1, steps // 10))
    fast_ips, fast_mem = ranking_row(device, size, images, True, max(1, steps // 10))
    print(f"{'authors (batch 1, two forwards, fp32, NCHW)':<52} {base_ips:>10.1f} {base_mem:>9.0f}")
    print(f"{'chanpos ([x, flip x] batches of 8, bf16, CL)':<52} {fast_ips:>10.1f} {fast_mem:>9.0f} "
          f"{fast_ips / base_ips:>9.2f}x")
    print(f"projected ranking of the 500 Cityscapes val images: authors {500 / base_ips:.0f} s, "
          f"chanpos {500 / fast_ips:.0f} s")


if __name__ == "__main__":
    main()
