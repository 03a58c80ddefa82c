"""Attack-curve timing: cached backbone (chanpos.probes.attack_confusions) vs a full re-run.

For K channel sets over the same images, a full re-run costs K (b + h) and the cached curve
b + K h, where b is one backbone pass and h one head pass plus evaluation (upsampling to
label resolution, argmax, confusion counts). The script measures b and h, times both
curves, checks that they give identical confusion matrices, and prints the ratio beside the
bound K (b + h) / (b + K h).

    .venv/bin/python benchmarks/attack_curve.py [--sets 52] [--batches 4] [--batch-size 25]
        [--model deeplabv3_small] [--size 64,128] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from chanpos.models import create_model
from chanpos.probes.ablation import ablate_channels, attack_confusions, predict_labels, segmentation_parts
from chanpos.probes.segmentation import ZONES, zone_confusions


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="deeplabv3_small")
    ap.add_argument("--sets", type=int, default=52, help="channel sets K (quick profile: 52)")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=25)
    ap.add_argument("--size", default="64,128", help="image H,W")
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = (int(v) for v in args.size.split(","))
    kwargs = {"num_classes": args.classes}
    if args.model == "deeplabv3_small":
        kwargs.update(width=16, head_channels=64)
    model = create_model(args.model, **kwargs).eval()
    parts = segmentation_parts(model)
    channels = model.classifier[0].convs[0][0].in_channels
    batches = [(torch.randn(args.batch_size, 3, h, w),
                torch.randint(0, args.classes, (args.batch_size, h, w)))
               for _ in range(args.batches)]
    g = torch.Generator().manual_seed(1)
    sets = [torch.randperm(channels, generator=g)[: (i * channels) // (2 * args.sets)]
            for i in range(args.sets)]

    with torch.no_grad():
        x, y = batches[0]
        feats = parts.encode(x)  # warm-up
        start = _clock()
        for _ in range(3):
            feats = parts.encode(x)
        b_wall, b_cpu = (t / 3 for t in _since(start))
        start = _clock()
        for s in sets[:8]:
            z = feats.clone()
            z[:, s] = 0
            pred = predict_labels(parts.decode(z), (h, w))
            zone_confusions(pred, y, args.classes, check=False)
        h_wall, h_cpu = (t / 8 for t in _since(start))

        start = _clock()
        cached = attack_confusions(parts, batches, sets, args.classes)
        c_wall, c_cpu = _since(start)

        start = _clock()
        full = torch.zeros(len(sets), ZONES, args.classes, args.classes, dtype=torch.long)
        for i, s in enumerate(sets):
            for xb, yb in batches:
                with ablate_channels(model, "backbone", s):
                    pred = predict_labels(model(xb)["out"])
                full[i] += zone_confusions(pred, yb, args.classes, check=False)[0]
        f_wall, f_cpu = _since(start)

    k = len(sets)
    bound = k * (b_cpu + h_cpu) / (b_cpu + k * h_cpu)
    print(f"model {args.model}, C = {channels}, K = {k} channel sets, {args.batches} batches of "
          f"{args.batch_size} images {h}x{w}, {args.threads} thread(s)")
    print(f"per batch: backbone b = {1000 * b_cpu:.1f} ms CPU ({1000 * b_wall:.1f} wall), "
          f"head + evaluation h = {1000 * h_cpu:.1f} ms CPU ({1000 * h_wall:.1f} wall)")
    print("| curve | wall s | CPU s |")
    print("|---|---|---|")
    print(f"| full re-run (backbone per set) | {f_wall:.2f} | {f_cpu:.2f} |")
    print(f"| cached backbone | {c_wall:.2f} | {c_cpu:.2f} |")
    print(f"ratio full / cached: {f_cpu / c_cpu:.2f} (CPU), {f_wall / c_wall:.2f} (wall); "
          f"bound K(b+h)/(b+Kh) = {bound:.2f}")
    print(f"identical confusion matrices: {torch.equal(cached, full)}")


if __name__ == "__main__":
    main()
