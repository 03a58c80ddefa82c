"""Shift invariance (PAPER.md Claim 2, Table 2): random shifts, the AugShift loss, consistency.

Everything here is a pure function of tensors or works on any classifier `nn.Module`:

- `translate(x, shifts, mode)` moves every image of a batch by its own integer (dy, dx)
  (pad, then crop; one gather for the whole batch). `random_shift` draws the shifts.
- `AugShiftLoss`: CE(S(z1), y) + CE(S(z2), y) + lambda * MSE(z1, z2) on the pooled latents
  z1, z2 of two shifted views (the paper's loss), with its parts for logging.
- `shift_consistency(model, loader, ...)`: Zhang's (ICML 2019) consistency, the percentage of
  images whose predicted class is the same under two independent random shifts.

Convention: a shift (dy, dx) moves the content down by dy and right by dx pixels,
out[..., i, j] = x[..., i - dy, j - dx]; pixels that come from outside the image are filled
by the padding `mode` (`zeros` fills with 0, i.e. the mean colour of a normalised input).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ChanposError

__all__ = [
    "SHIFT_MODES",
    "AugShiftLoss",
    "AugShiftParts",
    "draw_shifts",
    "prediction_agreement",
    "random_shift",
    "shift_consistency",
    "shift_protocol",
    "translate",
]

SHIFT_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def check_shift(max_shift: int, mode: str, size: tuple[int, int] | None = None) -> None:
    """Raise ChanposError (a ValueError) for a negative/too large `max_shift` or unknown `mode`."""
    if mode not in SHIFT_MODES:
        raise ChanposError(f"unknown shift mode {mode!r}; choose one of: {', '.join(SHIFT_MODES)}")
    if int(max_shift) != max_shift or max_shift < 0:
        raise ChanposError(f"max shift must be a whole number of pixels >= 0, got {max_shift}")
    if size is not None and max_shift > 0 and mode != "zeros":
        limit = min(size) - 1 if mode == "reflect" else min(size)
        if max_shift > limit:
            raise ChanposError(
                f"max shift {max_shift} is too large for {size[0]}x{size[1]} images with "
                f"{mode} padding (at most {limit})"
            )


def draw_shifts(
    batch: int, max_shift: int, *, generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """(batch, 2) integer shifts (dy, dx), each uniform in [-max_shift, max_shift]."""
    check_shift(max_shift, "zeros")
    gen_device = generator.device if generator is not None else device
    s = torch.randint(-max_shift, max_shift + 1, (batch, 2), generator=generator, device=gen_device)
    return s.to(device) if device is not None else s


def translate(x: Tensor, shifts: Tensor, mode: str = "zeros") -> Tensor:
    """Shift each image of x (B, C, H, W) by its own shifts[b] = (dy, dx) -> (B, C, H, W).

    Pads by the largest |shift| with `mode` and crops every image at its own offset with a
    single gather (no per-image loop). With `circular` this is exactly `torch.roll` per image.
    """
    if x.dim() != 4:
        raise ValueError(f"translate expects (B, C, H, W) images, got shape {tuple(x.shape)}")
    shifts = shifts.to(device=x.device, dtype=torch.long)
    if shifts.shape != (x.shape[0], 2):
        raise ValueError(f"shifts must have shape ({x.shape[0]}, 2), got {tuple(shifts.shape)}")
    m = int(shifts.abs().max()) if shifts.numel() else 0
    check_shift(m, mode, (x.shape[-2], x.shape[-1]))
    if m == 0:
        return x
    b, _, h, w = x.shape
    if mode == "zeros":
        padded = F.pad(x, (m, m, m, m))
    else:
        padded = F.pad(x.float() if not x.is_floating_point() else x, (m, m, m, m),
                       mode=_PAD[mode]).to(x.dtype)
    rows = (m - shifts[:, 0]).view(b, 1) + torch.arange(h, device=x.device)  # (B, H)
    cols = (m - shifts[:, 1]).view(b, 1) + torch.arange(w, device=x.device)  # (B, W)
    batch_idx = torch.arange(b, device=x.device).view(b, 1, 1)
    # advanced indices around a slice -> result (B, H, W, C); the permute is channels_last
    out = padded[batch_idx, :, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2)


def random_shift(
    x: Tensor, max_shift: int, mode: str = "zeros", *, generator: torch.Generator | None = None
) -> Tensor:
    """Translate each image of x (B, C, H, W) by a random (dy, dx), each in [-max_shift, max_shift].

    One offset per image; `max_shift` 0 returns x itself. Drawn from `generator` (or the
    global RNG of x's device), so runs repeat given a seed.
    """
    check_shift(max_shift, mode, (x.shape[-2], x.shape[-1]))
    if max_shift == 0:
        return x
    return translate(x, draw_shifts(x.shape[0], max_shift, generator=generator, device=x.device),
                     mode)


class AugShiftParts(NamedTuple):
    """The AugShift loss and its parts (all scalar tensors): loss = ce1 + ce2 + lam * mse."""

    loss: Tensor
    ce1: Tensor
    ce2: Tensor
    mse: Tensor


class AugShiftLoss(nn.Module):
    """AugShift (PAPER.md Claim 2): CE(S(z1), y) + CE(S(z2), y) + lam * MSE(z1, z2).

    z1, z2 (B, C) are the pooled latents of two shifted views of the same images and
    S(z1), S(z2) (B, K) their logits. MSE is the mean over batch and channels
    (`F.mse_loss`), CE the batch mean of cross-entropy.
    """

    def __init__(self, lam: float = 10.0) -> None:
        super().__init__()
        if not lam >= 0:
            raise ChanposError(f"AugShift lambda must be >= 0, got {lam}")
        self.lam = float(lam)

    def forward(
        self, z1: Tensor, z2: Tensor, logits1: Tensor, logits2: Tensor, target: Tensor
    ) -> AugShiftParts:
        """Loss from latents (B, C) and logits (B, K) of the two views, targets (B,)."""
        ce1 = F.cross_entropy(logits1, target)
        ce2 = F.cross_entropy(logits2, target)
        mse = F.mse_loss(z1, z2)
        return AugShiftParts(ce1 + ce2 + self.lam * mse, ce1, ce2, mse)

    def from_model(
        self, encode: Callable[[Tensor], Tensor], classify: Callable[[Tensor], Tensor],
        x1: Tensor, x2: Tensor, target: Tensor,
    ) -> tuple[AugShiftParts, Tensor]:
        """Loss of views x1, x2 (B, 3, H, W) through `encode` (-> (B, C)) and `classify`.

        Both views go through the encoder as one batch of 2B images (BatchNorm sees both);
        returns (parts, logits of view 1).
        """
        b = x1.shape[0]
        z = encode(torch.cat([x1, x2]))
        logits = classify(z)
        return self(z[:b], z[b:], logits[:b], logits[b:], target), logits[:b]


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
