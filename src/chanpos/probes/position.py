"""How much position a frozen network encodes, and where (`chanpos audit`).

- The paper's Claim 1 on a trained model (Islam et al., ICCV 2021, Table 1): the globally
  pooled vector of a layer, for tiles placed on a k x k zero canvas, and a linear probe
  (multinomial logistic regression) that reads the cell, or the tile's class, from it, as it
  is and with the channels shuffled by a fresh random permutation per sample (what
  PermuteNet's linear layer sees).
- The position readout of Islam, Jia and Bruce ("How Much Position Information Do
  Convolutional Neural Networks Encode?", ICLR 2020; "PosENet"): features of one or more
  stages resized bilinearly to one size and concatenated; one 3x3 convolution without padding,
  BatchNorm and a sigmoid trained with MSE to draw a position map that does not depend on the
  image (`POSITION_MAPS`); scored per image by Spearman's rank correlation (SPC) and the mean
  absolute error (MAE), then averaged. A constant prediction has no rank correlation: its SPC
  is undefined (None), never 0.
- How concentrated a ranking's scores are: the fraction of channels that holds half of the
  total score.

Everything works on any `nn.Module` through forward hooks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ChanposError
from ..models.memory_format import channels_last_ok
from ..names import POSITION_MAPS
from .channels import _features_fn, _features_many_fn, _is_channels_last

__all__ = ["position_map", "position_targets", "spc", "mae", "stage_features",
           "readout_dtype",
           "PositionReadout", "ReadoutScore", "fit_readout", "pooled_vectors",
           "ProbeResult", "fit_linear_probe", "half_mass_fraction"]

STRIPES = 4  # periods of the stripe maps across the image


def position_map(kind: str, height: int, width: int) -> Tensor:
    """One position map (H, W) in [0, 1]: H (0 at the left to 1 at the right), V (top to
    bottom), G (a centred Gaussian, sd a quarter of the side), HS / VS (horizontal /
    vertical stripes, `STRIPES` periods)."""
    y = torch.linspace(0, 1, height).view(-1, 1).expand(height, width)
    x = torch.linspace(0, 1, width).view(1, -1).expand(height, width)
    if kind == "H":
        return x.clone()
    if kind == "V":
        return y.clone()
    if kind == "G":
        return torch.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / (2 * 0.25 ** 2))
    if kind == "HS":
        return (torch.floor(y * STRIPES * 2 - 1e-6).clamp(min=0) % 2).float()
    if kind == "VS":
        return (torch.floor(x * STRIPES * 2 - 1e-6).clamp(min=0) % 2).float()
    raise ChanposError(f"unknown position map {kind!r}; choose from: {', '.join(POSITION_MAPS)}")


def position_targets(kinds: Sequence[str], height: int, width: int) -> Tensor:
    """The maps `kinds` stacked as (len(kinds), H, W)."""
    return torch.stack([position_map(k, height, width) for k in kinds])


def spc(pred: Tensor, target: Tensor) -> float | None:
    """Spearman's rank correlation of two maps (flattened); None when either is constant
    (no ranking exists). Ties get their average rank, as `scipy.stats.spearmanr`."""
    a, b = pred.flatten().double(), target.flatten().double()
    if a.numel() < 2 or bool((a == a[0]).all()) or bool((b == b[0]).all()):
        return None
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / torch.sqrt((ra * ra).sum() * (rb * rb).sum()))


def _ranks(v: Tensor) -> Tensor:
    """Average ranks (1-based) of the values of v, ties sharing their mean rank."""
    order = torch.argsort(v, stable=True)
    ranks = torch.empty_like(v)
    ranks[order] = torch.arange(1, v.numel() + 1, dtype=v.dtype)
    values, inverse = torch.unique(v, return_inverse=True)
    sums = torch.zeros(values.numel(), dtype=v.dtype).index_add_(0, inverse, ranks)
    counts = torch.zeros(values.numel(), dtype=v.dtype).index_add_(0, inverse, torch.ones_like(v))
    return (sums / counts)[inverse]


def mae(pred: Tensor, target: Tensor) -> float:
    """Mean absolute error of two maps."""
    return float((pred.double() - target.double()).abs().mean())


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@contextmanager
def _fast_format(model: nn.Module, channels_last: bool | None) -> Iterator[bool]:
    """The model in channels_last memory format for the block (None: where that is safe,
    `models.channels_last_ok`; 1.6x faster forwards of a ResNet on a CPU); restored after.
    Yields whether inputs should be channels_last too."""
    use = channels_last_ok(model) if channels_last is None else channels_last
    convert = use and not _is_channels_last(model)
    if convert:
        model.to(memory_format=torch.channels_last)
    try:
        yield use
    finally:
        if convert:
            model.to(memory_format=torch.contiguous_format)


def _in_format(x: Tensor, channels_last: bool) -> Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# from this many input channels on, the readout's conv runs as matrix products (measured on
# 2 CPU cores, 32 x 28 x 28 batches, forward + backward: conv/product 0.31/0.26 s at 256
# channels, 0.86/0.57 s at 512, 1.55/0.93 s at 960, but 0.08/0.14 s at 64)
GEMM_FROM = 256


def readout_dtype(channels: int) -> torch.dtype:
    """How a readout on `channels` feature channels stores them and multiplies: bfloat16 from
    `GEMM_FROM` channels on where the CPU's oneDNN has bfloat16 kernels (half the memory, and
    on 2 AVX-512 cores a 960-channel readout step took 0.066 s against 0.14 s in float32;
    products accumulate in float32, BatchNorm and the loss run in float32), else float32."""
    if channels < GEMM_FROM:
        return torch.float32
    try:
        fast = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        fast = False
    return torch.bfloat16 if fast else torch.float32


@torch.no_grad()
def stage_features(model: nn.Module, layers: Sequence[str], images: Tensor, size: int,
                   batch_size: int = 50, channels_last: bool | None = None,
                   dtype: torch.dtype | str = "auto") -> list[Tensor]:
    """The feature maps of every layer for `images` (N, 3, H, W), each resized bilinearly to
    (size, size): one (N, C_layer, size, size) tensor per layer (eval mode; `channels_last`:
    the forwards' memory format, None = where it is safe), stored as `dtype` ("auto":
    `readout_dtype` of all the layers' channels together)."""
    was_training = model.training
    model.eval()
    outs: list[Tensor] = []  # filled in place: a wide model's maps take gigabytes, held once
    try:
        fn = _features_many_fn(model, list(layers))
        device = _device_of(model)
        n = images.shape[0]
        with _fast_format(model, channels_last) as fast:
            for start in range(0, n, batch_size):
                x = _in_format(images[start:start + batch_size].to(device), fast)
                maps = []
                for i, f in enumerate(fn(x)):
                    if f.dim() != 4:
                        raise ChanposError(f"layer {layers[i]!r} gives {tuple(f.shape)} "
                                           "outputs, not (B, C, H, W) feature maps")
                    maps.append(F.interpolate(f.float(), size=(size, size), mode="bilinear",
                                              align_corners=False).cpu())
                if start == 0:
                    store = (readout_dtype(sum(f.shape[1] for f in maps)) if dtype == "auto"
                             else dtype)
                    outs = [torch.empty((n, *f.shape[1:]), dtype=store) for f in maps]
                for i, f in enumerate(maps):
                    outs[i][start:start + f.shape[0]] = f
    finally:
        model.train(was_training)
    return outs


class PositionReadout(nn.Module):
    """PosENet's readout: one 3x3 convolution without padding, BatchNorm, sigmoid; one output
    channel per position map (the maps are independent readouts trained side by side)."""

    def __init__(self, in_channels: int, maps: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, maps, 3, padding=0)
        self.bn = nn.BatchNorm2d(maps)

    def forward(self, x: Tensor | Sequence[Tensor]) -> Tensor:
        """(B, C, S, S), or channel parts of it, -> (B, maps, S - 2, S - 2) in (0, 1)."""
        return torch.sigmoid(self.bn(self._conv(x)))

    def _conv(self, x: Tensor | Sequence[Tensor]) -> Tensor:
        """The valid 3x3 convolution as one matrix product per channel part (weights of the
        nine offsets x every map at once) and nine shifted sums: the same function as
        `self.conv` (to float rounding), faster on a CPU for wide inputs and so few outputs,
        and on parts it never joins them; below `GEMM_FROM` channels, `self.conv` itself."""
        parts = [x] if isinstance(x, Tensor) else list(x)
        if self.conv.in_channels < GEMM_FROM:  # few channels: the library's conv is faster
            joined = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
            return self.conv(joined.float())
        w, maps = self.conv.weight, self.conv.out_channels
        b, _, h, wd = parts[0].shape
        z, start = None, 0
        for part in parts:  # bfloat16 parts (`readout_dtype`) multiply in bfloat16
            c = part.shape[1]
            wp = w[:, start:start + c].permute(0, 2, 3, 1).reshape(maps * 9, c)
            zp = torch.matmul(wp.to(part.dtype), part.reshape(b, c, h * wd)).float()
            z = zp if z is None else z + zp
            start += c
        z = z.view(b, maps, 3, 3, h, wd)
        y = self.conv.bias.view(1, maps, 1, 1)
        for di in range(3):
            for dj in range(3):
                y = y + z[:, :, di, dj, di:h - 2 + di, dj:wd - 2 + dj]
        return y


@dataclass(frozen=True)
class ReadoutScore:
    """Mean SPC (None if undefined on every image) and MAE of one map on the test images,
    and on how many images SPC was defined."""

    map: str
    spc: float | None
    mae: float
    spc_images: int


def _rows(features: Tensor | Sequence[Tensor], idx: Tensor | slice) -> Tensor | list[Tensor]:
    """The images `idx` of features given whole or as channel parts (kept in parts: the
    readout on every stage at once never holds a joined copy of them)."""
    if isinstance(features, Tensor):
        return features[idx]
    return [part[idx] for part in features]


def fit_readout(train: Tensor | Sequence[Tensor], test: Tensor | Sequence[Tensor],
                maps: Sequence[str], *, epochs: int = 30, lr: float = 0.01,
                batch_size: int = 32, seed: int = 0) -> list[ReadoutScore]:
    """Train a `PositionReadout` on features `train` (N, C, S, S), or a list of channel parts
    of them (the same readout on their concatenation), to draw every map of `maps` (MSE,
    Adam) and score it on `test`: per image SPC and MAE, averaged."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    parts = [train] if isinstance(train, Tensor) else list(train)
    n, s = parts[0].shape[0], parts[0].shape[-1] - 2
    target = position_targets(maps, s, s)
    readout = PositionReadout(sum(p.shape[1] for p in parts), len(maps))
    opt = torch.optim.Adam(readout.parameters(), lr=lr)
    readout.train()
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=g).split(batch_size):
            if idx.numel() < 2:
                continue  # BatchNorm needs two samples
            pred = readout(_rows(train, idx))
            loss = F.mse_loss(pred, target.expand_as(pred))
            opt.zero_grad()
            loss.backward()
            opt.step()
    readout.eval()
    with torch.no_grad():
        n_test = test.shape[0] if isinstance(test, Tensor) else test[0].shape[0]
        pred = torch.cat([readout(_rows(test, slice(i, i + 256)))
                          for i in range(0, n_test, 256)])
    scores = []
    for m, kind in enumerate(maps):
        values = [spc(p[m], target[m]) for p in pred]
        defined = [v for v in values if v is not None and math.isfinite(v)]
        scores.append(ReadoutScore(kind, sum(defined) / len(defined) if defined else None,
                                   sum(mae(p[m], target[m]) for p in pred) / len(pred),
                                   len(defined)))
    return scores


@torch.no_grad()
def pooled_vectors(model: nn.Module, layer: str, images: Tensor, batch_size: int = 100,
                   channels_last: bool | None = None) -> Tensor:
    """The globally average-pooled output of `layer` for every image -> (N, C)
    (`channels_last`: the forwards' memory format, None = where it is safe)."""
    fn: Callable[[Tensor], Tensor] = _features_fn(model, layer)
    was_training = model.training
    model.eval()
    try:
        out = []
        device = _device_of(model)
        with _fast_format(model, channels_last) as fast:
            for start in range(0, images.shape[0], batch_size):
                f = fn(_in_format(images[start:start + batch_size].to(device), fast)).float()
                if f.dim() != 4:
                    raise ChanposError(f"layer {layer!r} gives {tuple(f.shape)} outputs, not "
                                       "(B, C, H, W) feature maps; name a convolutional layer")
                out.append(f.mean(dim=(-2, -1)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


@dataclass(frozen=True)
class ProbeResult:
    """A linear probe's test accuracy (%) and whether its optimiser converged."""

    accuracy_pct: float
    converged: bool
    final_loss: float


def _permute_rows(z: Tensor, g: torch.Generator) -> Tensor:
    """Each row's entries in a fresh random order."""
    idx = torch.argsort(torch.rand(z.shape, generator=g), dim=1)
    return torch.gather(z, 1, idx)


def fit_linear_probe(train_z: Tensor, train_y: Tensor, test_z: Tensor, test_y: Tensor,
                     num_classes: int, *, shuffle: bool = False, seed: int = 0,
                     weight_decay: float = 1e-3, max_iter: int = 300) -> ProbeResult:
    """Multinomial logistic regression on pooled vectors (standardised on the training set),
    fitted with L-BFGS. With `shuffle`, every training and test vector's channels are put in
    a fresh random order first (PermuteNet's view: only order-free statistics survive).
    `converged` is L-BFGS's own criterion (gradient or step below tolerance) before
    `max_iter` iterations."""
    g = torch.Generator().manual_seed(seed)
    if shuffle:
        train_z, test_z = _permute_rows(train_z, g), _permute_rows(test_z, g)
    mean, std = train_z.mean(0), train_z.std(0).clamp_min(1e-6)
    xtr, xte = (train_z - mean) / std, (test_z - mean) / std
    torch.manual_seed(seed)
    probe = nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.LBFGS(probe.parameters(), lr=1.0, max_iter=max_iter,
                            tolerance_grad=1e-6, tolerance_change=1e-9,
                            line_search_fn="strong_wolfe")
    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(probe(xtr), train_y) + weight_decay * probe.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)  # runs L-BFGS until converged or max_iter
    iterations = opt.state[opt._params[0]].get("n_iter", max_iter)
    with torch.no_grad():
        loss = float(F.cross_entropy(probe(xtr), train_y)
                     + weight_decay * probe.weight.square().sum())
        acc = float((probe(xte).argmax(1) == test_y).float().mean()) * 100.0
    return ProbeResult(round(acc, 3), iterations < max_iter, round(loss, 6))


def half_mass_fraction(scores: Tensor) -> float:
    """The fraction of channels (largest scores first) that holds half of the total score:
    near 0 when a few channels carry it, 0.5 when it is spread evenly."""
    s = torch.sort(scores.abs().double(), descending=True).values
    total = float(s.sum())
    if total <= 0:
        return float("nan")
    k = int(torch.searchsorted(torch.cumsum(s, 0), torch.tensor(total / 2, dtype=s.dtype))) + 1
    return min(k, s.numel()) / s.numel()
