"""Shift invariance of a classifier (Islam et al., ICCV 2021, Table 2): Zhang's consistency.

`shift_consistency(model, loader, ...)` is Zhang's (ICML 2019) consistency, the percentage of
images whose predicted class is the same under two independent random shifts, on any
classifier `nn.Module`. The shifts themselves live in `chanpos.ops.shifts` (training's
AugShift views use the same ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ChanposError
from ..ops.shifts import SHIFT_MODES, check_shift, draw_shifts, random_shift, translate

__all__ = [
    "SHIFT_MODES",
    "check_shift",
    "draw_shifts",
    "prediction_agreement",
    "random_shift",
    "shift_consistency",
    "shift_protocol",
    "translate",
]


def prediction_agreement(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Per image, whether argmax(logits_a) == argmax(logits_b): (B, K), (B, K) -> (B,) bool."""
    return logits_a.argmax(dim=1) == logits_b.argmax(dim=1)


def shift_protocol(max_shift: int, mode: str, pairs: int, seed: int = 0) -> str:
    """One sentence stating how `shift_consistency` drew its shifts (for every report)."""
    pad = {"zeros": "zero padding of the normalised input (the dataset's mean colour)"}.get(
        mode, f"{mode} padding")
    return (
        f"two independent random shifts per test image, (dy, dx) each uniform over the integers "
        f"[-{max_shift}, {max_shift}] px, {pad}, pad-then-crop to the original size; "
        f"averaged over {pairs} pair{'s' if pairs != 1 else ''} per image (seed {seed}); "
        f"top-1 on the unshifted images"
    )


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for buf in model.buffers():
        return buf.device
    return torch.device("cpu")


@torch.no_grad()
def shift_consistency(
    model: nn.Module,
    loader: Iterable[Any],
    max_shift: int,
    mode: str = "zeros",
    pairs: int = 1,
    seed: int = 0,
    *,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """Zhang's shift consistency and top-1 of a classifier, in percent.

    `loader` yields (images (B, 3, H, W) as the model expects them, labels (B,), ...).
    For every batch: one forward on the unshifted images (top-1), then for each of `pairs`
    pairs two forwards on independently shifted copies (shifts from a CPU generator seeded
    with `seed`, so the result does not depend on the device). The model runs in eval mode
    and gets its previous mode back. Returns {"consistency_pct", "top1_pct", "images",
    "pairs", "max_shift", "shift_mode", "seed", "protocol"}.
    """
    if pairs < 1:
        raise ChanposError(f"pairs must be >= 1, got {pairs}")
    check_shift(max_shift, mode)
    dev = torch.device(device) if device is not None else _model_device(model)
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    agree = correct = seen = 0
    try:
        for batch in loader:
            x, y = batch[0].to(dev), batch[1].to(dev)
            b = x.shape[0]
            correct += int((model(x).argmax(dim=1) == y).sum())
            for _ in range(pairs):
                sa = draw_shifts(b, max_shift, generator=gen)
                sb = draw_shifts(b, max_shift, generator=gen)
                la = model(translate(x, sa, mode))
                lb = model(translate(x, sb, mode))
                agree += int(prediction_agreement(la, lb).sum())
            seen += b
    finally:
        model.train(was_training)
    if seen == 0:
        raise ChanposError("shift_consistency got an empty loader (no test images)")
    return {
        "consistency_pct": 100.0 * agree / (seen * pairs),
        "top1_pct": 100.0 * correct / seen,
        "images": seen,
        "pairs": pairs,
        "max_shift": int(max_shift),
        "shift_mode": mode,
        "seed": seed,
        "protocol": shift_protocol(max_shift, mode, pairs, seed),
    }
