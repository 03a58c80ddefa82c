"""`streets`: built-in procedural road scenes for the segmentation attack (Islam et al., ICCV 2021,
Figures 4-6).

Scenes look like a driving camera's view in right-hand traffic: sky on top, a road
converging to a vanishing point at the bottom, a wide sidewalk with buildings and poles on
the right, the oncoming lane, a narrow verge and vegetation on the left, cars on the road,
people on the sidewalks. Eight classes whose layout depends on position, random colours and
textures per image, pixel noise; deterministic given a seed, at any resolution (labels are
at image resolution). Generation is vectorised over the batch (a loop over object slots only).

`same_texture=True` paints road and sidewalk with the same colour and texture, so only
position (and the surrounding layout) can tell them apart: the "labels only position can
decide" factor of the attack study. `mirror` is the fraction of left-hand-traffic (mirrored)
scenes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ChanposError
from ..ops.flips import draw_flips, flip_where
from .segmentation_set import SegmentationSet

__all__ = ["STREETS_CLASSES", "STREETS_PALETTE", "make_streets", "load_streets"]

STREETS_CLASSES: tuple[str, ...] = (
    "road",
    "sidewalk",
    "building",
    "vegetation",
    "sky",
    "car",
    "person",
    "pole",
)
ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, CAR, PERSON, POLE = range(8)
# display colours (Cityscapes' palette for the same classes)
STREETS_PALETTE: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128),
    (244, 35, 232),
    (70, 70, 70),
    (107, 142, 35),
    (70, 130, 180),
    (0, 0, 142),
    (220, 20, 60),
    (153, 153, 153),
)


def _rand(g: torch.Generator, n: int, low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=g)


def _v(t: Tensor) -> Tensor:
    """(N,) per-image value -> (N, 1, 1) for broadcasting against (1, H, W) coordinates."""
    return t.view(-1, 1, 1)


def _texture(g: torch.Generator, n: int, u: Tensor, v: Tensor, kind: str) -> Tensor:
    """A (N, H, W) texture in about [-1, 1]: oriented waves ("wave"), tiles ("tiles"), blobs."""
    if kind == "tiles":
        freq = _v(_rand(g, n, 10, 24))
        lines = torch.minimum(torch.remainder(u * freq, 1.0), torch.remainder(v * freq * 0.6, 1.0))
        return torch.where(lines < 0.12, -1.0, 0.3).expand(n, -1, -1)
    if kind == "windows":
        fx, fy = _v(_rand(g, n, 12, 28)), _v(_rand(g, n, 10, 22))
        win = (torch.remainder(u * fx, 1.0) < 0.5) & (torch.remainder(v * fy, 1.0) < 0.55)
        return torch.where(win, -0.8, 0.4)
    if kind == "blobs":
        out = torch.zeros(n, u.shape[-2], u.shape[-1])
        for _ in range(3):
            fx, fy = _v(_rand(g, n, 8, 30)), _v(_rand(g, n, 8, 30))
            px, py = _v(_rand(g, n, 0, 6.3)), _v(_rand(g, n, 0, 6.3))
            out = out + torch.sin(2 * math.pi * fx * u + px) * torch.sin(2 * math.pi * fy * v + py)
        return out / 2
    theta = _v(_rand(g, n, 0, math.pi))
    freq = _v(_rand(g, n, 3, 14))
    phase = _v(_rand(g, n, 0, 2 * math.pi))
    return torch.sin(2 * math.pi * freq * (u * torch.cos(theta) + v * torch.sin(theta)) + phase)


def _paint(img: Tensor, mask: Tensor, colour: Tensor, texture: Tensor, contrast: Tensor) -> None:
    """img (N, 3, H, W) <- colour (N, 3) * (1 + contrast * texture) where mask (N, H, W)."""
    value = colour.view(-1, 3, 1, 1) * (1 + _v(contrast).unsqueeze(1) * texture.unsqueeze(1))
    img.copy_(torch.where(mask.unsqueeze(1), value, img))


@dataclass(frozen=True)
class _Road:
    """Per-scene road geometry, each (N, 1, 1): horizon row, vanishing point x, road edges and
    sidewalk widths where they meet the bottom row."""

    horizon: Tensor
    vp: Tensor
    road_l: Tensor
    road_r: Tensor
    walk_r: Tensor
    verge_l: Tensor

    @classmethod
    def draw(cls, g: torch.Generator, n: int) -> _Road:
        return cls(horizon=_v(_rand(g, n, 0.36, 0.5)), vp=_v(_rand(g, n, 0.42, 0.58)),
                   road_l=_v(_rand(g, n, -0.45, 0.0)), road_r=_v(_rand(g, n, 0.7, 0.9)),
                   walk_r=_v(_rand(g, n, 0.25, 0.5)), verge_l=_v(_rand(g, n, 0.05, 0.2)))

    def depth(self, tb: Tensor) -> Tensor:
        """The image row (N,) at depth tb (0 = horizon, 1 = bottom row)."""
        return self.horizon.view(-1) + tb * (1 - self.horizon.view(-1))

    def edge(self, which: Tensor, tb: Tensor) -> Tensor:
        """x (N,) of a road edge (`road_l` or `road_r`) at depth tb."""
        return (self.vp + (which - self.vp) * _v(tb)).view(-1)


def _label_layout(g: torch.Generator, r: _Road, u: Tensor, v: Tensor, label: Tensor) -> None:
    """Sky, buildings (right), vegetation (left), road and sidewalks, in place."""
    n = label.shape[0]
    t = ((v - r.horizon) / (1 - r.horizon)).clamp(min=0)  # 0 at the horizon, 1 at the bottom
    below = v > r.horizon
    x_rl = r.vp + (r.road_l - r.vp) * t
    x_rr = r.vp + (r.road_r - r.vp) * t
    x_wr = x_rr + r.walk_r * t
    x_wl = x_rl - r.verge_l * t
    b_top = r.horizon - _v(_rand(g, n, 0.15, 0.4)) * (u - r.vp).clamp(min=0) / (1 - r.vp) - 0.03
    step = torch.floor(u * _v(_rand(g, n, 3, 7)) + _v(_rand(g, n, 0, 1)))
    b_top = b_top - 0.12 * torch.remainder(step * 0.37, 1.0) * (u > r.vp)
    building = (u > r.vp + _v(_rand(g, n, 0.02, 0.08))) & (v > b_top)
    veg_top = r.horizon - _v(_rand(g, n, 0.1, 0.3)) * (r.vp - u).clamp(min=0) / r.vp
    veg_top = veg_top - 0.05 * torch.sin(u * _v(_rand(g, n, 20, 50)) + _v(_rand(g, n, 0, 6)))
    vegetation = (u < r.vp - _v(_rand(g, n, 0.02, 0.08))) & (v > veg_top)
    # some scenes get a few far buildings on the left
    left_bld = (_v(torch.rand(n, generator=g)) < 0.3) & (u < r.vp - 0.15) & (
        v > r.horizon - 0.12) & (torch.remainder(u * 5 + _v(_rand(g, n, 0, 1)), 1.0) < 0.4)
    label[vegetation] = VEGETATION
    label[building] = BUILDING
    label[left_bld] = BUILDING
    label[below & (u > x_wr)] = BUILDING
    label[below & (u < x_wl)] = VEGETATION
    label[below & (u >= x_rl) & (u <= x_rr)] = ROAD
    label[below & (((u > x_rr) & (u <= x_wr)) | ((u < x_rl) & (u >= x_wl)))] = SIDEWALK


def _label_objects(g: torch.Generator, r: _Road, u: Tensor, v: Tensor, label: Tensor) -> None:
    """Cars on the road, people on the sidewalks, poles at the right curb, in place."""
    n, height, width = label.shape

    def box(cx: Tensor, bottom: Tensor, w: Tensor, h: Tensor) -> Tensor:
        return ((u - _v(cx)).abs() <= _v(w) / 2) & (v <= _v(bottom)) & (v >= _v(bottom - h))

    # cars: parked on the right at the curb, driving in the right lane, oncoming on the left
    vp = r.vp.view(-1)
    for slot in range(3):
        present = torch.rand(n, generator=g) < (0.9, 0.6, 0.5)[slot]
        tb = _rand(g, n, 0.12, 0.9)  # depth of the car's bottom (0 = horizon)
        h = tb * _rand(g, n, 0.35, 0.45)
        w = h * _rand(g, n, 1.3, 1.8) * height / width
        rl, rr = r.edge(r.road_l, tb), r.edge(r.road_r, tb)
        lane = (rr - w / 2, vp + (rr - vp) * 0.45, vp - (vp - rl) * 0.35)[slot]
        label[box(lane, r.depth(tb), w, h) & _v(present)] = CAR
    for _ in range(3):  # people, mostly on the right sidewalk
        present = torch.rand(n, generator=g) < 0.6
        tb = _rand(g, n, 0.15, 0.95)
        h = tb * _rand(g, n, 0.35, 0.55)
        w = h * 0.3 * height / width
        right = torch.rand(n, generator=g) < 0.75
        x_r = r.edge(r.road_r, tb) + r.walk_r.view(-1) * tb * _rand(g, n, 0.3, 0.8)
        x_l = r.edge(r.road_l, tb) - r.verge_l.view(-1) * tb * 0.5
        label[box(torch.where(right, x_r, x_l), r.depth(tb), w, h) & _v(present)] = PERSON
    for _ in range(2):  # poles at the right sidewalk's edge
        present = torch.rand(n, generator=g) < 0.7
        tb = _rand(g, n, 0.2, 1.0)
        x = r.edge(r.road_r, tb) + r.walk_r.view(-1) * tb * 0.92
        w = (0.012 + 0.02 * tb).clamp(min=1.2 / width)
        label[box(x, r.depth(tb), w, tb * 0.9 + 0.1) & _v(present)] = POLE


def _paint_scene(g: torch.Generator, label: Tensor, u: Tensor, v: Tensor, same_texture: bool,
                 noise: float) -> Tensor:
    """Images (N, 3, H, W): a random colour and texture per class and image, plus noise."""
    n, height, width = label.shape
    img = torch.zeros(n, 3, height, width)
    kinds = {ROAD: "wave", SIDEWALK: "tiles", BUILDING: "windows", VEGETATION: "blobs",
             SKY: "wave", CAR: "wave", PERSON: "wave", POLE: "wave"}
    ranges = {SKY: (0.45, 1.0), VEGETATION: (0.05, 0.6), ROAD: (0.2, 0.7), SIDEWALK: (0.25, 0.8)}
    shared: tuple[Tensor, Tensor, Tensor] | None = None
    for cls in range(len(STREETS_CLASSES)):
        low, high = ranges.get(cls, (0.05, 0.95))
        colour = low + (high - low) * torch.rand(n, 3, generator=g)
        texture = _texture(g, n, u, v, kinds[cls])
        contrast = _rand(g, n, 0.05, 0.3)
        if same_texture and cls in (ROAD, SIDEWALK):
            if shared is None:
                shared = (colour, _texture(g, n, u, v, "blobs"), contrast)
            colour, texture, contrast = shared
        _paint(img, label == cls, colour, texture, contrast)
    return img + noise * torch.randn(img.shape, generator=g)


def _streets_batch(
    g: torch.Generator, n: int, height: int, width: int, same_texture: bool, mirror: float,
    noise: float,
) -> tuple[Tensor, Tensor]:
    """One batch of scenes: images (n, 3, H, W) float in [0, 1], labels (n, H, W) uint8."""
    u = ((torch.arange(width, dtype=torch.float32) + 0.5) / width).view(1, 1, width)
    v = ((torch.arange(height, dtype=torch.float32) + 0.5) / height).view(1, height, 1)
    label = torch.full((n, height, width), SKY, dtype=torch.uint8)
    road = _Road.draw(g, n)
    _label_layout(g, road, u, v, label)
    _label_objects(g, road, u, v, label)
    img = _paint_scene(g, label, u, v, same_texture, noise)
    flips = draw_flips(n, mirror, generator=g)
    img, label = flip_where(img, flips), flip_where(label, flips)
    return img.clamp(0, 1), label


def make_streets(
    num_samples: int,
    *,
    height: int = 64,
    width: int = 128,
    seed: int = 0,
    same_texture: bool = False,
    mirror: float = 0.0,
    noise: float = 0.04,
    chunk: int = 256,
) -> tuple[Tensor, Tensor]:
    """`num_samples` scenes: images (N, 3, H, W) uint8 and labels (N, H, W) uint8, fixed by `seed`.

    `same_texture`: road and sidewalk share colour and texture (only position separates
    them). `mirror`: probability that a scene is mirrored (left-hand traffic).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if height < 8 or width < 8:
        raise ValueError(f"streets needs images of at least 8x8 pixels, got {height}x{width}")
    g = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for start in range(0, num_samples, chunk):
        n = min(chunk, num_samples - start)
        img, lab = _streets_batch(g, n, height, width, same_texture, mirror, noise)
        images.append((img * 255).round().to(torch.uint8))
        labels.append(lab)
    return torch.cat(images), torch.cat(labels)


# the most pixels the procedural scenes draw for one split (images and labels: ~4 bytes/px)
MAX_PIXELS = 400_000_000


def load_streets(
    *,
    split: str = "train",
    num_samples: int | None = None,
    height: int = 64,
    width: int = 128,
    seed: int = 0,
    same_texture: bool = False,
    mirror: float = 0.0,
) -> SegmentationSet:
    """The `streets` source: `split` train | val, disjoint seeds, names `streets_<split>_<i>`."""
    if split not in ("train", "val"):
        raise ValueError(f"unknown streets split {split!r}; use train or val")
    n = num_samples or (2000 if split == "train" else 200)
    pixels = n * height * width
    if pixels > MAX_PIXELS:
        raise ChanposError(f"streets draws at most {MAX_PIXELS // 1_000_000} million pixels "
                           f"per split (about {MAX_PIXELS * 4 // 10**9} GB of images and "
                           f"labels); {n} images of {height}x{width} px are {pixels:,}: ask "
                           "for fewer or smaller images")
    images, labels = make_streets(
        n, height=height, width=width, seed=seed * 2 + (0 if split == "train" else 1) + 5000,
        same_texture=same_texture, mirror=mirror,
    )
    names = tuple(f"streets_{split}_{i:05d}" for i in range(n))
    return SegmentationSet("streets", images, labels, names, STREETS_CLASSES, STREETS_PALETTE,
                           (0.45, 0.45, 0.45), (0.25, 0.25, 0.25))

