"""MNIST digits rendered as ink coverage (alpha) at camera scale, with a chosen stroke.

Evaluation scenes use only the test split, so they never show a digit the classifier trained
on; `mnist_glyphs("train")` is for scenes that feed training.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reader.training.mnist import load_mnist

# Coverage below this is invisible after compositing; glyph crops are trimmed to it.
VISIBLE_ALPHA = 0.02
# Coverage above this counts as ink (the truth boxes use the same level).
INK_ALPHA = 0.3
# Where the upscaled MNIST intensity is cut to get a stroke outline for the pen/marker skeleton.
OUTLINE_LEVEL = 0.45
MIN_PEN_PX = 1.6  # thinner lines fade to grey once the camera blurs them


@dataclass(frozen=True)
class Stroke:
    """How a page's digits are drawn.

    `width_frac` None keeps MNIST's own stroke and only moves its outline with `level` (higher =
    thinner). A fraction redraws the digit's skeleton as a pen or marker line that wide relative
    to the digit's height (a pen's width and the handwriting's size both scale with the camera's
    distance, so the ratio is what stays put).
    """

    width_frac: float | None = None
    level: float = OUTLINE_LEVEL
    min_px: float = MIN_PEN_PX    # a pen line is never drawn thinner than this


@dataclass(frozen=True)
class Glyph:
    """One rendered digit: its label and ink coverage, cropped tight to the visible ink."""

    label: int
    alpha: np.ndarray  # float32 (h, w) in [0, 1]


class GlyphBank:
    """MNIST test images grouped by label, rendered on demand."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise ValueError(f"expected (N, 28, 28) images with N labels, got {images.shape}"
                             f" and {labels.shape}")
        self.images = images
        self.labels = labels
        self.indices_by_label = [np.flatnonzero(labels == d) for d in range(10)]
        if any(len(ix) == 0 for ix in self.indices_by_label):
            raise ValueError("every digit 0-9 needs at least one image")

    def sample(self, rng: np.random.Generator, label: int) -> np.ndarray:
        """A random 28x28 image of `label`."""
        candidates = self.indices_by_label[label]
        return self.images[candidates[rng.integers(len(candidates))]]

    def render(self, rng: np.random.Generator, label: int, height_px: float, stroke: Stroke,
               aspect: float = 1.0) -> Glyph:
        """Draw a random test image of `label` whose ink is `height_px` tall."""
        return Glyph(label, render_digit(self.sample(rng, label), height_px, stroke, aspect))


@functools.lru_cache(maxsize=4)
def mnist_glyphs(split: str = "test", data_dir: str | Path | None = None) -> GlyphBank:
    """One MNIST split ("test" or "train") as a GlyphBank (loaded once per process).

    Scenes for evaluation use the test split; scenes that feed training (e.g. "not a digit"
    negatives) use the train split, so no test digit is ever trained on.
    """
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    mnist = load_mnist(data_dir)
    if split == "train":
        return GlyphBank(mnist.x_train, mnist.y_train)
    return GlyphBank(mnist.x_test, mnist.y_test)


def mnist_test_glyphs(data_dir: str | Path | None = None) -> GlyphBank:
    """The MNIST test split as a GlyphBank (loaded once per process)."""
    return mnist_glyphs("test", data_dir)


def render_digit(image28: np.ndarray, height_px: float, stroke: Stroke,
                 aspect: float = 1.0) -> np.ndarray:
    """Upscale one MNIST digit so its ink is `height_px` tall; return float32 coverage in [0,1].

    The digit is cropped to its ink, upscaled smoothly, then either re-thresholded with a soft
    edge (MNIST's own stroke) or thinned to a skeleton and redrawn at the stroke's width.
    `aspect` stretches the width (handwriting varies in how wide digits are).
    """
    rows = np.flatnonzero(image28.max(axis=1))
    cols = np.flatnonzero(image28.max(axis=0))
    if rows.size == 0:
        raise ValueError("empty MNIST image")
    ink_h = rows[-1] - rows[0] + 1
    # One pixel of context on each side so the cubic upscale sees the stroke's fall-off.
    crop = np.pad(image28[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], 1).astype(np.float32)
    crop /= 255.0
    scale = max(height_px, 4.0) / ink_h
    out_w = max(3, round(crop.shape[1] * scale * aspect))
    out_h = max(3, round(crop.shape[0] * scale))
    interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    intensity = cv2.resize(crop, (out_w, out_h), interpolation=interpolation)

    if stroke.width_frac is None:
        # Cubic upscaling leaves an edge ~`scale` px wide; a soft threshold narrows it to ~1.5 px
        # (a camera's anti-aliasing) instead of a blurry halo or a jagged binary edge.
        soft = float(np.clip(0.75 / scale, 0.06, 0.25))
        alpha = np.clip((intensity - (stroke.level - soft)) / (2 * soft), 0.0, 1.0)
    else:
        width_px = max(stroke.min_px, stroke.width_frac * height_px)
        alpha = _redraw_skeleton(intensity > OUTLINE_LEVEL, width_px)
    alpha = _trim(alpha.astype(np.float32))
    # Thresholds and skeletons move the ends of strokes; rescale so the ink is as tall as asked.
    ink_rows = np.flatnonzero((alpha > INK_ALPHA).any(axis=1))
    ink_h = ink_rows[-1] - ink_rows[0] + 1 if ink_rows.size else alpha.shape[0]
    if abs(ink_h - height_px) > 0.5:
        factor = height_px / ink_h
        size = (max(1, round(alpha.shape[1] * factor)), max(1, round(alpha.shape[0] * factor)))
        alpha = _trim(cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR))
    return alpha


def _redraw_skeleton(outline: np.ndarray, width_px: float) -> np.ndarray:
    """Thin the outline to a one-pixel skeleton and draw it as an anti-aliased line of width_px."""
    pad = int(np.ceil(width_px / 2)) + 2
    outline = np.pad(outline, pad)
    skeleton = thin(outline)
    if not skeleton.any():
        skeleton = outline
    distance = cv2.distanceTransform(np.where(skeleton, 0, 255).astype(np.uint8),
                                     cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(width_px / 2 + 0.5 - distance, 0.0, 1.0)


def _trim(alpha: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(alpha.max(axis=1) > VISIBLE_ALPHA)
    cols = np.flatnonzero(alpha.max(axis=0) > VISIBLE_ALPHA)
    if rows.size == 0:
        raise ValueError("digit rendered without visible ink")
    trimmed = alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return np.where(trimmed > VISIBLE_ALPHA, trimmed, 0.0).astype(np.float32)


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask to a connected one-pixel-wide skeleton."""
    image = np.pad(mask.astype(np.uint8), 1)
    inner = image[1:-1, 1:-1]  # a view: clearing it clears `image`
    while True:
        changed = False
        for step in (0, 1):
            # Neighbours P2..P9 clockwise from north, as in the paper.
            p2, p3, p4 = image[:-2, 1:-1], image[:-2, 2:], image[1:-1, 2:]
            p5, p6, p7 = image[2:, 2:], image[2:, 1:-1], image[2:, :-2]
            p8, p9 = image[1:-1, :-2], image[:-2, :-2]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            neighbours = p2 + p3 + p4 + p5 + p6 + p7 + p8 + p9
            # 0 -> 1 steps around the ring; for 0/1 values "b > a" is exactly that.
            transitions = sum((b > a).view(np.uint8) for a, b in itertools.pairwise(ring))
            if step == 0:
                side = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                side = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            remove = ((inner == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1)
                      & side)
            if remove.any():
                inner[remove] = 0
                changed = True
        if not changed:
            return inner.astype(bool)
