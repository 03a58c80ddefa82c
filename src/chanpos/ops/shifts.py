"""Integer image shifts shared by training (AugShift's views, shifted crops) and probes
(shift consistency), Table 2 of Islam et al. (ICCV 2021).

Convention: a shift (dy, dx) moves the content down by dy and right by dx pixels,
out[..., i, j] = x[..., i - dy, j - dx]; pixels that come from outside the image are filled
by the padding `mode` (`zeros` fills with 0, i.e. the mean colour of a normalised input).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ChanposError
from ..names import SHIFT_MODES

__all__ = ["SHIFT_MODES", "check_shift", "check_in_view", "draw_shifts", "translate",
           "random_shift"]

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


def check_in_view(max_shift: int, size: tuple[int, int], what: str = "images",
                  flag: str = "--max-shift") -> None:
    """A shift of `max_shift` pixels must leave part of a `size` image in view (a larger one
    shows only padding, and a consistency test over it is meaningless and slow)."""
    if max_shift >= min(size):
        raise ChanposError(f"{flag} {max_shift} moves {size[0]}x{size[1]} {what} entirely out "
                           f"of view; use at most {min(size) - 1} (the paper: 4 px on 32 px "
                           "CIFAR)")


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
    # advanced indices around a slice -> result (B, H, W, C), whose permute is channels_last:
    # copied back to x's own memory format, since a channels_last input makes every conv of
    # the model run channels_last, and the backward of a strided 1x1 conv with fewer than 16
    # input channels corrupts the heap in that format (torch 2.14.1 on an AVX2 CPU)
    out = padded[batch_idx, :, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2).contiguous(memory_format=_memory_format(x))


def _memory_format(x: Tensor) -> torch.memory_format:
    """channels_last for a channels_last 4-d tensor that is not also plain contiguous."""
    if x.is_contiguous():
        return torch.contiguous_format
    if x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


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
