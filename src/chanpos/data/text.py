"""Text images with exactly known word boxes, for attacking a text detector (Figures 4-6 of
Islam et al., 2021, on a real pretrained DBNet).

`render_text` draws seeded words (random letters and digits, Pillow's built-in scalable
font at varied sizes, contrasts, backgrounds and blur) anywhere on the canvas, or, with
`half="left"`, only in the left half (the region ranking's images). Each box is the exact ink
extent of its word, measured on the rendered glyph mask. `read_icdar2015` reads a real folder
in the ICDAR 2015 format (`img_N.jpg` + `gt_img_N.txt`, one quadrilateral per line, `###` =
do not care). Both give a `TextSet`: a two-class (background, text) `SegmentationSet` whose
labels are the filled word boxes (don't-care regions: `ignore_index`), plus the boxes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..errors import ChanposError
from .segmentation_set import SegmentationSet

__all__ = ["TextSet", "render_text", "render_crops", "read_icdar2015", "TEXT_CLASSES",
           "CROP_CLASSES", "MAX_TEXT_IMAGES"]

TEXT_CLASSES = ("background", "text")
_PALETTE = ((0, 0, 0), (255, 220, 0))
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789"
MAX_TEXT_IMAGES = 20_000
CROP_CLASSES = ("0", "180")  # upright, upside down: PaddleOCR's direction classes
Quad = tuple[float, ...]  # x1, y1, x2, y2, x3, y3, x4, y4 (clockwise from top left)


@dataclass(frozen=True, eq=False)
class TextSet(SegmentationSet):
    """A `SegmentationSet` of text images with every image's word quadrilaterals `boxes` and
    which of them do not count (`dont_care`, ICDAR's `###`)."""

    boxes: tuple[tuple[Quad, ...], ...] = ()
    dont_care: tuple[tuple[bool, ...], ...] = ()

    def select(self, index: torch.Tensor | list[int]) -> TextSet:
        """The images at `index`, in that order, with their boxes."""
        idx = torch.as_tensor(index, dtype=torch.long)
        keep = idx.tolist()
        return TextSet(self.name, self.images[idx], self.labels[idx],
                       tuple(self.names[i] for i in keep), self.class_names, self.palette,
                       self.mean, self.std, self.ignore_index,
                       tuple(self.boxes[i] for i in keep), tuple(self.dont_care[i] for i in keep))


def _rect(x0: float, y0: float, x1: float, y1: float) -> Quad:
    return (x0, y0, x1, y0, x1, y1, x0, y1)


def _background(rng: random.Random, h: int, w: int) -> Image.Image:
    """A flat colour, a gradient or a noisy texture."""
    kind = rng.choice(("flat", "gradient", "noise"))
    base = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
    if kind == "flat":
        arr = np.broadcast_to(base, (h, w, 3))
    elif kind == "gradient":
        other = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        ramp = base + (other - base) * t[:, None]
        arr = (np.broadcast_to(ramp[None], (h, w, 3)) if ramp.shape[0] == w
               else np.broadcast_to(ramp[:, None], (h, w, 3)))
    else:
        noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 25, (h, w, 1))
        arr = base + noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _word_colour(rng: random.Random, under: np.ndarray) -> tuple[int, int, int]:
    """A colour at least 70 grey levels from the mean luminance under the word."""
    lum = float(under.mean())
    level = rng.randint(0, max(0, int(lum) - 70)) if lum > 127 else rng.randint(
        min(255, int(lum) + 70), 255)
    tint = [min(255, max(0, level + rng.randint(-30, 30))) for _ in range(3)]
    return tuple(tint)  # type: ignore[return-value]


def _glyphs(rng: random.Random, sizes: tuple[int, int], letters: tuple[int, int],
            scale: float) -> np.ndarray | None:
    """The ink (h, w) uint8 of a random word at a random font size, cropped to its exact
    extent (None if it has no ink)."""
    size = max(8, round(rng.randint(*sizes) * scale))
    font = ImageFont.load_default(size=size)
    word = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(*letters)))
    mask = Image.new("L", (size * len(word) + 8, size * 2), 0)
    ImageDraw.Draw(mask).text((4, 0), word, font=font, fill=255)
    extent = mask.getbbox()
    return None if extent is None else np.asarray(mask.crop(extent))


def _paint(rng: random.Random, canvas: np.ndarray, glyphs: np.ndarray, x: int, y: int) -> None:
    """Blend `glyphs` into `canvas` at (x, y) in a colour that contrasts with what is there."""
    gh, gw = glyphs.shape
    region = canvas[y:y + gh, x:x + gw].astype(np.float32)
    colour = np.array(_word_colour(rng, region), dtype=np.float32)
    alpha = glyphs[..., None].astype(np.float32) / 255
    canvas[y:y + gh, x:x + gw] = (region * (1 - alpha) + colour * alpha).astype(np.uint8)


def _render_one(rng: random.Random, h: int, w: int, half: str | None,
                ink: np.ndarray | None = None) -> tuple[np.ndarray, list[Quad]]:
    """One image and its word boxes; `ink` (H, W) bool, if given, gets every glyph pixel."""
    img = _background(rng, h, w)
    canvas = np.asarray(img).copy()
    boxes: list[tuple[int, int, int, int]] = []
    wanted = rng.randint(2, 5)
    right_edge = w // 2 - 2 if half == "left" else w - 2
    scale = h / 160
    for _ in range(60):
        if len(boxes) == wanted:
            break
        glyphs = _glyphs(rng, (14, 34), (3, 9), scale)
        if glyphs is None:
            continue
        gh, gw = glyphs.shape
        if gw > right_edge - 2 or gh > h - 4:
            continue
        x, y = rng.randint(2, right_edge - gw), rng.randint(2, h - 2 - gh)
        box = (x, y, x + gw, y + gh)
        if any(box[0] < b[2] + 4 and b[0] < box[2] + 4 and box[1] < b[3] + 4
               and b[1] < box[3] + 4 for b in boxes):
            continue  # words never touch: each box holds one word
        _paint(rng, canvas, glyphs, x, y)
        if ink is not None:
            ink[y:y + gh, x:x + gw] |= glyphs > 0
        boxes.append(box)
    out = Image.fromarray(canvas)
    if rng.random() < 0.3:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    # pixel corners, inclusive (as ICDAR's): the last column and row hold ink
    return np.asarray(out), [_rect(b[0], b[1], b[2] - 1, b[3] - 1) for b in boxes]


def _fill(h: int, w: int, quads: tuple[Quad, ...], dont_care: tuple[bool, ...],
          ignore_index: int) -> np.ndarray:
    """The label map: 1 inside counted quads, `ignore_index` inside don't-care ones."""
    label = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(label)
    for quad, skip in zip(quads, dont_care, strict=True):
        pts = list(zip(quad[0::2], quad[1::2], strict=True))
        draw.polygon(pts, fill=ignore_index if skip else 1)
    return np.asarray(label)


def _text_set(name: str, images: list[np.ndarray], quads: list[tuple[Quad, ...]],
              dont_care: list[tuple[bool, ...]], names: list[str],
              mean: tuple[float, float, float], std: tuple[float, float, float]) -> TextSet:
    h, w = images[0].shape[:2]
    labels = [_fill(h, w, q, d, 255) for q, d in zip(quads, dont_care, strict=True)]
    return TextSet(name, torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
                   torch.from_numpy(np.stack(labels)), tuple(names), TEXT_CLASSES, _PALETTE,
                   mean, std, 255, tuple(quads), tuple(dont_care))


def render_text(n: int, *, seed: int, size: tuple[int, int] = (160, 320),
                half: str | None = None, mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
                std: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> TextSet:
    """`n` rendered text images of `size` (H, W), words anywhere or only in the left half."""
    if not 1 <= n <= MAX_TEXT_IMAGES:
        raise ChanposError(f"rendered text: between 1 and {MAX_TEXT_IMAGES} images, got {n}")
    h, w = size
    if h < 32 or w < 64:
        raise ChanposError(f"rendered text needs images of at least 32x64, got {h}x{w}")
    if half not in (None, "left"):
        raise ValueError(f"half must be None or 'left', got {half!r}")
    rng = random.Random(f"text-{seed}-{half}-{h}x{w}")
    images, quads = [], []
    for _ in range(n):
        image, boxes = _render_one(rng, h, w, half)
        images.append(image)
        quads.append(tuple(boxes))
    names = [f"text{'-left' if half else ''}-{seed}-{i}" for i in range(n)]
    return _text_set("text", images, quads, [tuple(False for _ in q) for q in quads], names,
                     mean, std)


def _crop(rng: random.Random, side: int) -> np.ndarray:
    """One word filling most of a side x side tile, upright."""
    canvas = np.asarray(_background(rng, side, side)).copy()
    for _ in range(30):
        glyphs = _glyphs(rng, (15, 24), (2, 4), side / 48)
        if glyphs is None:
            continue
        gh, gw = glyphs.shape
        if gw > side - 4 or gh > side - 4:
            continue
        x, y = rng.randint(2, side - 2 - gw), rng.randint(2, side - 2 - gh)
        _paint(rng, canvas, glyphs, x, y)
        return canvas
    raise RuntimeError("no word fits the tile")  # pragma: no cover (side >= 24 always fits)


def render_crops(n: int, *, seed: int, side: int = 48,
                 mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
                 std: tuple[float, float, float] = (0.5, 0.5, 0.5)):
    """`n` word tiles (side x side), half of them turned upside down: class 0 upright, 1 at
    180 degrees (the classes of a text-direction classifier) -> an `ImageSet`."""
    from .sources import ImageSet

    if not 1 <= n <= MAX_TEXT_IMAGES:
        raise ChanposError(f"text crops: between 1 and {MAX_TEXT_IMAGES} images, got {n}")
    rng = random.Random(f"crops-{seed}-{side}")
    images, labels = [], []
    for i in range(n):
        tile = _crop(rng, side)
        turned = i % 2
        images.append(np.ascontiguousarray(tile[::-1, ::-1]) if turned else tile)
        labels.append(turned)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return ImageSet("text-crops", x, torch.tensor(labels, dtype=torch.long), 2, mean, std)


def _read_gt(path: Path, sx: float, sy: float) -> tuple[tuple[Quad, ...], tuple[bool, ...]]:
    quads, skip = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(",", 8)
        try:
            coords = [float(v) for v in parts[:8]]
        except ValueError:
            raise ChanposError(f"{path}:{number}: expected x1,y1,...,x4,y4,text, got "
                               f"{line[:60]!r}") from None
        if len(coords) != 8:
            raise ChanposError(f"{path}:{number}: expected 8 coordinates, got {len(coords)}")
        quads.append(tuple(v * (sx if i % 2 == 0 else sy) for i, v in enumerate(coords)))
        skip.append(len(parts) > 8 and parts[8].strip() == "###")
    return tuple(quads), tuple(skip)


def read_icdar2015(root: str | Path, *, size: tuple[int, int], num_samples: int | None = None,
                   mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
                   std: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> TextSet:
    """The images under `root` (`img_N.jpg`, any depth) with their `gt_img_N.txt`, resized to
    `size` (H, W), boxes scaled with them; the first `num_samples` by name (all if None)."""
    root = Path(root)
    if not root.is_dir():
        raise ChanposError(f"--data-root {root}: no such folder")
    gts = {p.stem[len("gt_"):]: p for p in root.rglob("gt_img_*.txt")}
    images = sorted((p for p in root.rglob("img_*") if p.suffix.lower() in (".jpg", ".png")
                     and p.stem in gts), key=lambda p: (len(p.stem), p.stem))
    if not images:
        raise ChanposError(f"--data-root {root}: no ICDAR 2015 pairs (img_N.jpg with "
                           "gt_img_N.txt) found")
    if num_samples is not None:
        images = images[:num_samples]
    h, w = size
    arrays, quads, skips = [], [], []
    for path in images:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                sx, sy = w / im.width, h / im.height
                arrays.append(np.asarray(im.resize((w, h), Image.BILINEAR)))
        except OSError as exc:
            raise ChanposError(f"{path}: not a readable image ({exc})") from None
        q, s = _read_gt(gts[path.stem], sx, sy)
        quads.append(q)
        skips.append(s)
    return _text_set("icdar2015", arrays, quads, skips, [p.stem for p in images], mean, std)


def _register() -> None:
    from .sources import register_source

    @register_source("text-crops")
    def _text_crops(*, split: str, num_samples: int | None, seed: int, **_: object):
        # train and test are disjoint draws of the same seed
        return render_crops(num_samples or (2000 if split == "train" else 500),
                            seed=2 * seed + (split != "train"))


_register()
