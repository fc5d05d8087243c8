"""Patches that are not a digit, for the network's 11th class ("not a digit").

Two sources, both generated from a seed inside the training run (nothing stored on disk):

- **Scene proposals**: camera-like scenes rendered with MNIST *training* digits
  (`reader.scenes`), read by the reader's own stages (ink mask -> digit boxes -> patches), and
  every alternative segmentation by recognition would weigh for them (`reader.segment`: the
  pieces of a wide blob cut where a cut crosses least ink, two close boxes merged, a small piece
  joined to its neighbour); a proposed box that lies (almost) wholly outside every truth digit
  is a false alarm the live reader would see. The cut pieces matter most: a printed word or
  letter cut into pieces reads as a row of 1s and hooks unless the network has seen such
  pieces as not-a-digit.
- **Synthetic clutter** drawn straight as ink (white on black) and passed through the reader's
  patch normalisation (`reader.patches.normalize_digit`): page edges against a desk, ruling and
  grid fragments, wood and fabric textures, specks, printed letters and words (OpenCV Hershey
  fonts), pen ticks and crosses, halves of digits and two touching digits (MNIST training
  digits).

No TensorFlow here: the patches are plain numpy arrays, float32 (N, 28, 28) in [0, 1].
"""

from __future__ import annotations

import string
from collections.abc import Callable

import cv2
import numpy as np

from reader.patches import make_patches, normalize_digit

NOT_A_DIGIT = 10  # the class index of "not a digit"

# Letters that a hand could write as a digit (O/0, l/1, S/5, Z/2, B/8, g/9, ...) are left
# out of single printed letters; words of any letters stay (several glyphs side by side).
AMBIGUOUS_LETTERS = set("OoDQlIijJSsZzBbgqGTt")
SINGLE_LETTERS = "".join(c for c in string.ascii_letters if c not in AMBIGUOUS_LETTERS)
HERSHEY_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
                 cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL,
                 cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)
# A scene gives at most this many negatives (a desk's grain cut into pieces gives hundreds),
# so the quota is spread over many scenes and families.
MAX_PER_SCENE = 8
# A proposal is a false alarm when at most this share of its box lies in truth digits' boxes.
MAX_TRUTH_OVERLAP = 0.15
# After normalisation a bare upright stroke (a printed l or I, a piece of the page edge) is
# exactly what a handwritten 1 looks like: such patches are left out of the negatives, as the
# network could only learn to doubt every 1. Ink narrower than this (px of 28) and at least
# ONE_MIN_HEIGHT_PX tall counts as a bare stroke.
ONE_MAX_WIDTH_PX = 7
ONE_MIN_HEIGHT_PX = 15


def looks_like_a_one(patches: np.ndarray) -> np.ndarray:
    """Boolean per (N, 28, 28) patch: its ink is a bare upright stroke."""
    ink = patches > 0.3
    widths = ink.any(axis=1).sum(axis=1)
    heights = ink.any(axis=2).sum(axis=1)
    return (widths <= ONE_MAX_WIDTH_PX) & (heights >= ONE_MIN_HEIGHT_PX)


def _blank(rng: np.random.Generator, low: int = 40, high: int = 90) -> np.ndarray:
    size = int(rng.integers(low, high))
    return np.zeros((size, size), np.float32)


def _line(img, p0, p1, width, value=1.0):
    cv2.line(img, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), float(value),
             max(1, round(width)), cv2.LINE_AA)


def _largest_blob(darkness: np.ndarray, level: float) -> np.ndarray:
    """Ink of the largest 8-connected blob darker than `level` (what the contour stage boxes)."""
    mask = (darkness > level).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return np.zeros_like(darkness)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    keep = cv2.dilate((labels == biggest).astype(np.uint8), np.ones((3, 3), np.uint8))
    return darkness * keep


def _smooth_noise(rng, shape, sigma_xy) -> np.ndarray:
    noise = rng.standard_normal(shape).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=sigma_xy[0], sigmaY=sigma_xy[1])
    return noise / (noise.std() + 1e-6)


def _rotate(img: np.ndarray, angle_deg: float) -> np.ndarray:
    h, w = img.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR)


def page_edge(rng: np.random.Generator, ctx) -> np.ndarray:
    """The page's edge against a darker, textured desk, often with ruling lines ending on it."""
    img = _blank(rng, 48, 96)
    size = img.shape[0]
    # Desk darkness relative to the paper, with grain; the edge line is near-vertical or
    # near-horizontal in the frame.
    # Always clearly darker than the paper: a bare straight line would be a '1'.
    desk = float(rng.uniform(0.4, 0.9)) + 0.15 * _smooth_noise(rng, img.shape, (1.5, 6.0))
    edge_x = size * rng.uniform(0.3, 0.8)
    xs = np.arange(size, dtype=np.float32)[None, :]
    ys = np.arange(size, dtype=np.float32)[:, None]
    slope = rng.uniform(-0.15, 0.15)
    side = xs > edge_x + slope * (ys - size / 2)
    img = np.where(side, np.clip(desk, 0, 1), 0.0).astype(np.float32)
    if rng.random() < 0.5:  # a shadow line along the edge
        x0 = edge_x - slope * size / 2
        _line(img, (x0, 0), (x0 + slope * size, size), rng.uniform(1, 4), rng.uniform(0.6, 1))
    if rng.random() < 0.6:  # ruling on the paper side
        pitch = rng.uniform(8, 20)
        for y in np.arange(rng.uniform(0, pitch), size, pitch):
            _line(img, (0, y), (edge_x + slope * (y - size / 2), y), rng.uniform(1, 2),
                  rng.uniform(0.3, 0.8))
    if rng.random() < 0.5:  # sometimes the band between two ruling lines only
        y0 = int(rng.integers(0, size // 2))
        img = img[y0:y0 + int(rng.integers(size // 4, size // 2))]
    if rng.random() < 0.5:
        img = img.T
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return _largest_blob(np.ascontiguousarray(img), 0.2)


def ruling(rng: np.random.Generator, ctx) -> np.ndarray:
    """Fragments of ruled or squared paper: crossings, corners, combs, stubs."""
    img = _blank(rng, 40, 90)
    size = img.shape[0]
    width = rng.uniform(1, 2.5)
    value = rng.uniform(0.5, 1.0)
    pitch = rng.uniform(10, 40)
    offset = rng.uniform(0, pitch)
    grid = rng.random() < 0.6
    for p in np.arange(offset, size, pitch):
        _line(img, (0, p), (size, p), width, value)
        if grid:
            _line(img, (p, 0), (p, size), width, value)
    if rng.random() < 0.5:  # a stroke or a gap breaks the lines into pieces
        cut = rng.uniform(0.2, 0.8) * size
        img[:, int(cut):int(cut + rng.uniform(2, 8))] = 0
    img = _rotate(img, rng.uniform(-8, 8))
    # The piece the contour stage would box: a window of the pattern.
    h = int(rng.integers(size // 3, size))
    w = int(rng.integers(size // 3, size))
    y0, x0 = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
    return _largest_blob(img[y0:y0 + h, x0:x0 + w], 0.25)


def texture(rng: np.random.Generator, ctx) -> np.ndarray:
    """Wood grain (stretched streaks) or fabric (woven crosshatch) darker than a threshold."""
    img = _blank(rng, 40, 96)
    size = img.shape[0]
    if rng.random() < 0.5:  # wood: long streaks along one direction, with rings
        along, across = rng.uniform(8, 30), rng.uniform(0.8, 2.5)
        field = _smooth_noise(rng, img.shape, (along, across))
        rings = np.sin(np.arange(size)[:, None] * rng.uniform(0.2, 0.8)
                       + 2.0 * _smooth_noise(rng, img.shape, (10, 10)))
        field = 0.7 * field + 0.5 * rings
        field = _rotate(field.astype(np.float32), rng.uniform(0, 180))
    else:  # fabric: two sets of threads
        period = rng.uniform(3, 8)
        xs = np.arange(size, dtype=np.float32)
        weave = (np.sin(xs[None, :] * 2 * np.pi / period)
                 + np.sin(xs[:, None] * 2 * np.pi / (period * rng.uniform(0.8, 1.25))))
        field = weave + 0.8 * _smooth_noise(rng, img.shape, (2, 2))
        field = _rotate(field.astype(np.float32), rng.uniform(0, 90))
    field = (field - field.min()) / (np.ptp(field) + 1e-6)
    return _largest_blob(field.astype(np.float32), float(rng.uniform(0.55, 0.8)))


def specks(rng: np.random.Generator, ctx) -> np.ndarray:
    """A cluster of dots and crumbs (dust, paper fibres, sensor noise clumps)."""
    img = _blank(rng, 30, 70)
    size = img.shape[0]
    for _ in range(int(rng.integers(3, 25))):
        centre = rng.uniform(0, size, 2)
        axes = rng.uniform(0.8, 3.5, 2)
        cv2.ellipse(img, (int(centre[0]), int(centre[1])), (int(axes[0]), int(axes[1])),
                    float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.4, 1)), -1,
                    cv2.LINE_AA)
    return img


def printed_text(rng: np.random.Generator, ctx) -> np.ndarray:
    """Printed letters or a short word in an OpenCV Hershey font."""
    if rng.random() < 0.5:
        text = SINGLE_LETTERS[rng.integers(len(SINGLE_LETTERS))]
    else:
        length = int(rng.integers(2, 7))
        letters = string.ascii_letters
        text = "".join(letters[i] for i in rng.integers(0, len(letters), length))
        if rng.random() < 0.3:
            text = text.upper()
    font = HERSHEY_FONTS[rng.integers(len(HERSHEY_FONTS))]
    scale = float(rng.uniform(1.2, 2.5))
    thickness = int(rng.integers(1, 4))
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    canvas = np.zeros((th + base + 10, tw + 10), np.uint8)  # putText draws on 8-bit only
    cv2.putText(canvas, text, (5, th + 5), font, scale, 255, thickness, cv2.LINE_AA)
    img = canvas.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        img = _rotate(np.pad(img, 10), rng.uniform(-10, 10))
    return img


def pen_mark(rng: np.random.Generator, ctx) -> np.ndarray:
    """Ticks, crosses, dashes, underlines, arrows and scribbles made with a pen."""
    img = _blank(rng, 40, 80)
    size = img.shape[0]
    width = rng.uniform(1.5, 4)
    kind = rng.integers(6)
    s = size
    if kind == 0:  # tick
        a = (s * 0.15, s * rng.uniform(0.45, 0.65))
        b = (s * rng.uniform(0.35, 0.5), s * 0.85)
        c = (s * 0.85, s * rng.uniform(0.1, 0.3))
        _line(img, a, b, width)
        _line(img, b, c, width)
    elif kind == 1:  # cross
        j = rng.uniform(-0.1, 0.1, 4) * s
        _line(img, (s * 0.2 + j[0], s * 0.2), (s * 0.8, s * 0.8 + j[1]), width)
        _line(img, (s * 0.8 + j[2], s * 0.2), (s * 0.2, s * 0.8 + j[3]), width)
    elif kind == 2:  # dash or underline (wide and flat)
        y = s / 2 + rng.uniform(-3, 3)
        _line(img, (s * 0.05, y), (s * 0.95, y + rng.uniform(-4, 4)), width)
        img = img[int(s / 2 - 12):int(s / 2 + 12)]
    elif kind == 3:  # arrow
        _line(img, (s * 0.1, s * 0.5), (s * 0.9, s * 0.5), width)
        _line(img, (s * 0.9, s * 0.5), (s * 0.7, s * 0.3), width)
        _line(img, (s * 0.9, s * 0.5), (s * 0.7, s * 0.7), width)
    elif kind == 4:  # scribble: a dense zig-zag
        n = int(rng.integers(5, 12))
        xs = np.linspace(s * 0.1, s * 0.9, n)
        ys = np.where(np.arange(n) % 2 == 0, s * 0.2, s * 0.8) + rng.uniform(-5, 5, n)
        pts = np.stack([xs, ys], 1).astype(np.int32)
        cv2.polylines(img, [pts], False, 1.0, max(1, int(width)), cv2.LINE_AA)
    else:  # asterisk or a hash sign
        if rng.random() < 0.5:
            for ang in np.linspace(0, np.pi, int(rng.integers(3, 5)), endpoint=False):
                d = np.array([np.cos(ang), np.sin(ang)]) * s * 0.35
                _line(img, (s / 2 - d[0], s / 2 - d[1]), (s / 2 + d[0], s / 2 + d[1]), width)
        else:
            for f in (0.35, 0.65):
                _line(img, (s * 0.15, s * f), (s * 0.85, s * f), width)
                _line(img, (s * f, s * 0.15), (s * f, s * 0.85), width)
    return _rotate(img, rng.uniform(-15, 15))


def digit_half(rng: np.random.Generator, ctx) -> np.ndarray:
    """A part of one MNIST training digit: its left, right, top or bottom 35-60 %.

    Not of a 1: any part of a 1 is still a 1.
    """
    images = ctx["not_ones"]
    digit = images[rng.integers(len(images))].astype(np.float32) / 255.0
    rows = np.flatnonzero(digit.max(1) > 0.1)
    cols = np.flatnonzero(digit.max(0) > 0.1)
    digit = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = digit.shape
    share = rng.uniform(0.35, 0.6)
    side = rng.integers(4)
    if side == 0:
        return digit[:, :max(1, int(w * share))]
    if side == 1:
        return digit[:, int(w * (1 - share)):]
    if side == 2:
        return digit[:max(1, int(h * share))]
    return digit[int(h * (1 - share)):]


def touching_digits(rng: np.random.Generator, ctx) -> np.ndarray:
    """Two MNIST training digits side by side, touching or overlapping a little."""
    images = ctx["images"]
    parts = []
    for _ in range(2):
        digit = images[rng.integers(len(images))].astype(np.float32) / 255.0
        cols = np.flatnonzero(digit.max(0) > 0.1)
        parts.append(digit[:, cols[0]:cols[-1] + 1])
    overlap = int(rng.integers(0, 4))
    left, right = parts
    width = left.shape[1] + right.shape[1] - overlap
    img = np.zeros((28 + 6, width + 4), np.float32)
    dy = int(rng.integers(-3, 4))
    img[3:31, 2:2 + left.shape[1]] = left
    x = 2 + left.shape[1] - overlap
    region = img[3 + dy:31 + dy, x:x + right.shape[1]]
    np.maximum(region, right, out=region)
    return img


SYNTHETIC_KINDS: dict[str, tuple[Callable, float]] = {
    # name: (drawer, share of the synthetic negatives)
    "page_edge": (page_edge, 0.16),
    "ruling": (ruling, 0.14),
    "texture": (texture, 0.14),
    "specks": (specks, 0.06),
    "printed_text": (printed_text, 0.14),
    "pen_mark": (pen_mark, 0.12),
    "digit_half": (digit_half, 0.12),
    "touching_digits": (touching_digits, 0.12),
}


def synthetic_negatives(count: int, seed: int, train_images: np.ndarray,
                        train_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`count` clutter patches (N, 28, 28) float32 and their kind names, reproducible by seed."""
    rng = np.random.default_rng([seed, 1010])
    names = list(SYNTHETIC_KINDS)
    shares = np.array([SYNTHETIC_KINDS[n][1] for n in names])
    kinds = rng.choice(len(names), size=count, p=shares / shares.sum())
    ctx = {"images": train_images, "not_ones": train_images[train_labels != 1]}
    patches = np.zeros((count, 28, 28), np.float32)
    for i, k in enumerate(kinds):
        # A drawer can come out blank (a texture with no dark blob) or as a bare stroke.
        for _ in range(8):
            ink = SYNTHETIC_KINDS[names[k]][0](rng, ctx)
            if ink.size and ink.max() > 0.2:
                patches[i] = normalize_digit(ink)
                if not looks_like_a_one(patches[i:i + 1])[0]:
                    break
    return patches, np.array(names)[kinds]


def _default_scene_makers() -> list[Callable]:
    """Scene families to mine false alarms from: `(rng, glyphs) -> (BGR image, truth)`."""
    from reader.scenes.clutter import FAMILIES
    from reader.scenes.still import SceneOptions, make_still

    def still(options):
        def make(rng, glyphs):
            scene = make_still(rng, glyphs, options=options)
            return scene.image, scene.truth
        return make

    # Every family, the harder ones (desk edges and grain, printed text, faint pens, blur
    # under shadow, touching digits) twice as often: plain scenes seldom fool the reader.
    families = [f for f in FAMILIES if f != "plain"] * 2 + ["plain"]
    return [still(SceneOptions(family=f)) for f in families]


def truth_digit_boxes(truth: dict) -> np.ndarray:
    """(D, 4) x, y, w, h of every truth digit of a still's truth dict."""
    boxes = [d["box"] for n in truth.get("numbers", []) for d in n["digits"]]
    boxes += [n["box"] for n in truth.get("cut_numbers", [])]
    return np.array(boxes, np.int64).reshape(-1, 4)


def false_alarms(boxes_xywh: np.ndarray, truth_xywh: np.ndarray) -> np.ndarray:
    """Boolean per proposed box: at most MAX_TRUTH_OVERLAP of it lies in truth digit boxes."""
    boxes = np.asarray(boxes_xywh, np.int64).reshape(-1, 4)
    if len(truth_xywh) == 0:
        return np.ones(len(boxes), bool)
    bx0, by0 = boxes[:, None, 0], boxes[:, None, 1]
    bx1, by1 = bx0 + boxes[:, None, 2], by0 + boxes[:, None, 3]
    tx0, ty0 = truth_xywh[None, :, 0], truth_xywh[None, :, 1]
    tx1, ty1 = tx0 + truth_xywh[None, :, 2], ty0 + truth_xywh[None, :, 3]
    inter = (np.clip(np.minimum(bx1, tx1) - np.maximum(bx0, tx0), 0, None)
             * np.clip(np.minimum(by1, ty1) - np.maximum(by0, ty0), 0, None))
    area = np.maximum(boxes[:, 2] * boxes[:, 3], 1)
    return inter.sum(axis=1) / area <= MAX_TRUTH_OVERLAP


def scene_negatives(count: int, seed: int, glyphs, makers: list[Callable] | None = None,
                    max_scenes: int | None = None) -> np.ndarray:
    """Up to `count` patches of boxes the reader proposes in scenes but that hold no digit.

    Scenes are drawn with `glyphs` (pass MNIST *training* digits) until `count` are found or
    `max_scenes` (default 4 * count + 20) have been read; their families take turns. The
    contour stage's boxes and every alternative segmentation may weigh for them
    (`reader.segment.every_alternative`) count. Bare upright strokes are left out (`looks_like_a_one`).
    """
    from reader.contours import find_digit_boxes
    from reader.pipeline import DEFAULT_MAX_CANDIDATES
    from reader.segment import MAX_BLOB_WIDTH_PER_HEIGHT, every_alternative
    from reader.threshold import ink_mask

    makers = makers or _default_scene_makers()
    rng = np.random.default_rng([seed, 2020])
    found: list[np.ndarray] = []
    total = 0
    for i in range(max_scenes if max_scenes is not None else 4 * count + 20):
        if total >= count:
            break
        image, truth = makers[i % len(makers)](rng, glyphs)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        mask = ink_mask(gray)
        boxes, pieces = find_digit_boxes(mask, DEFAULT_MAX_CANDIDATES,
                                         MAX_BLOB_WIDTH_PER_HEIGHT, with_pieces=True)
        proposed, proposed_patches = every_alternative(gray, mask, boxes, pieces)
        truth_boxes = truth_digit_boxes(truth)
        wrong = false_alarms(boxes, truth_boxes)
        wrong_proposed = false_alarms(proposed, truth_boxes)
        if not wrong.any() and not wrong_proposed.any():
            continue
        patches = np.concatenate([make_patches(gray, mask, boxes[wrong]),
                                  proposed_patches[wrong_proposed]])
        patches = patches[(patches.reshape(len(patches), -1).max(1) > 0)
                          & ~looks_like_a_one(patches)]
        if len(patches) > MAX_PER_SCENE:  # one scene of wood grain would fill the quota
            patches = patches[np.sort(rng.choice(len(patches), MAX_PER_SCENE, replace=False))]
        found.append(patches[:count - total])
        total += len(found[-1])
    return np.concatenate(found) if found else np.zeros((0, 28, 28), np.float32)


def make_negatives(count: int, seed: int, train_images: np.ndarray, train_labels: np.ndarray,
                   scene_share: float = 0.3, makers: list[Callable] | None = None,
                   max_scenes: int | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """`count` not-a-digit patches: scene false alarms (up to `scene_share`), the rest clutter.

    Returns the patches (N, 28, 28) float32 and how many came from each kind.
    """
    from reader.scenes.glyphs import GlyphBank

    wanted = round(count * scene_share)
    scenes = np.zeros((0, 28, 28), np.float32)
    if wanted:
        glyphs = GlyphBank(train_images, train_labels)
        scenes = scene_negatives(wanted, seed, glyphs, makers,
                                 max_scenes if max_scenes is not None else min(400, wanted))
    clutter, kinds = synthetic_negatives(count - len(scenes), seed, train_images,
                                         train_labels)
    counts = {"scene_false_alarm": len(scenes)}
    counts.update({name: int((kinds == name).sum()) for name in SYNTHETIC_KINDS})
    return np.concatenate([scenes, clutter]), counts
