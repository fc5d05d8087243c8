"""MNIST-like patches: each digit box of a frame becomes a 28x28 float32 image the model knows.

MNIST digits were made by fitting each digit in a 20x20 box (keeping its aspect, anti-aliased)
and placing it in a 28x28 field so that its centre of mass sits at the centre. White ink on
black, in [0, 1]. We do the same, plus two steps that make a camera's digit look more like
MNIST's: deskew (shear upright by image moments, as OpenCV's samples/python/digits.py does),
and bringing the stroke width to MNIST's (a ballpoint and a marker both become a ~2.5 px pen).

Per digit the work is a handful of small cv2 calls on uint8 images of ~40x40 pixels; only the
finished patch is float32. A model should be trained on MNIST passed through `normalize_digit`
too, so that it sees deskewed, stroke-matched digits in training as in use.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from reader.ink import INK_LEVEL, binary_mask, stroke_width_px

PATCH_PX = 28
DIGIT_PX = 20                # long side of the digit inside the patch, as in MNIST
CENTRE = 14.0                # MNIST's centre of mass, as cv2.moments measures it on its images
# Deskew and stroke work happens at twice the final size, where the stroke width can be
# changed in half-pixel steps of the final patch.
WORK_PX = 2 * DIGIT_PX
CANVAS_MARGIN_PX = 5         # black around the deskewed digit: room to thicken its strokes
MIN_SKEW = 0.05              # below this (~3 degrees) shearing only blurs
MAX_SKEW = 0.7               # beyond ~35 degrees the moments are fooled by the digit's shape
# Stroke width of MNIST digits at the 20 px scale, measured with `stroke_width_px` on MNIST's
# training images after `work_image` (tests/test_patches.py re-measures it): median 2.48 px
# over the first 5000, middle 80% of digits between 1.8 and 3.4 px.
MNIST_STROKE_PX = 2.48
# Only change the stroke when it is off by more than this (px at the 20 px scale): MNIST's own
# pens vary, and every change costs a little detail.
STROKE_TOLERANCE_PX = 0.5
MAX_ERODE_SHARE = 0.5        # never erode away more than this share of a stroke's width
FAINT_CORE = 200             # of 255: a shrunk digit whose stroke core is fainter is rescaled
CORE_PERCENTILE = 90         # the core: this percentile of the inked pixels' brightness
INK_FLOOR = 12               # of 255: fainter is anti-aliasing fringe or noise, not the digit
# make_patches: the crop around each box is this much wider, for the ink's soft edges.
CROP_PAD_PX = 2


@functools.lru_cache(maxsize=32)
def _disc(diameter_px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter_px, diameter_px))


def _to_ink_u8(ink: np.ndarray) -> np.ndarray | None:
    """`ink` as uint8 with its strongest pixel at 255, or None when it holds no ink."""
    if ink.size == 0:
        return None
    peak = float(ink.max())
    if peak <= 0:
        return None
    if ink.dtype == np.uint8 and peak == 255:
        return ink
    # convertScaleAbs would turn negative values (brighter than paper) into ink.
    positive = np.maximum(np.asarray(ink, dtype=np.float32), 0.0)
    return cv2.convertScaleAbs(positive, alpha=255.0 / peak)


def _ink_box(ink_u8: np.ndarray) -> tuple[int, int, int, int]:
    return cv2.boundingRect(cv2.threshold(ink_u8, INK_FLOOR, 255, cv2.THRESH_BINARY)[1])


def _crop_to_ink(ink_u8: np.ndarray) -> np.ndarray:
    x, y, w, h = _ink_box(ink_u8)
    return ink_u8[y:y + h, x:x + w]


def _work_canvas(ink_u8: np.ndarray) -> tuple[np.ndarray, float]:
    """The digit (cropped uint8) scaled to WORK_PX on its long side and sheared upright, in one
    warp, on a canvas with CANVAS_MARGIN_PX of black around it; and its ink mass there."""
    height, width = ink_u8.shape
    scale = WORK_PX / max(height, width)
    if scale < 0.5:  # a bilinear warp would skip pixels: average them away first
        ink_u8 = cv2.resize(ink_u8, (max(1, round(width * scale)), max(1, round(height * scale))),
                            interpolation=cv2.INTER_AREA)
        height, width = ink_u8.shape
        scale = WORK_PX / max(height, width)
    moments = cv2.moments(ink_u8)
    if moments["m00"] <= 0:
        return np.zeros((1, 1), np.uint8), 0.0
    skew = 0.0
    if moments["mu02"] > 1e-3 * moments["m00"]:
        skew = min(max(moments["mu11"] / moments["mu02"], -MAX_SKEW), MAX_SKEW)
    if abs(skew) < MIN_SKEW:
        skew = 0.0
    centre_y = moments["m01"] / moments["m00"]
    margin = CANVAS_MARGIN_PX
    # x' = scale * (x - skew * (y - centre_y) + pad) + margin,  y' = scale * y + margin,
    # where pad keeps the sheared rows at x' >= margin.
    pad = max(skew * (height - 1 - centre_y), -skew * centre_y, 0.0)
    forward = np.float32([[scale, -scale * skew, scale * (skew * centre_y + pad) + margin],
                          [0.0, scale, margin]])
    canvas_w = math.ceil(scale * (width + abs(skew) * (height - 1))) + 1 + 2 * margin
    canvas_h = math.ceil(scale * height) + 1 + 2 * margin
    canvas = cv2.warpAffine(ink_u8, forward, (canvas_w, canvas_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # A shear keeps area, so the ink mass only scales with the square of the zoom.
    ink_mass = moments["m00"] / 255.0 * scale * scale
    # Shrinking a fine-pen digit spreads each stroke over more pixels than it covers: it turns
    # grey. MNIST's thinnest strokes are still white, so make the strokes' core white again
    # (the stroke width step then treats them as pixel-wide lines).
    if cv2.minMaxLoc(canvas)[1] >= 250:  # white somewhere: strokes wider than a pixel
        return canvas, ink_mass
    core = _core_level(canvas)
    if 0 < core < FAINT_CORE:
        canvas = cv2.convertScaleAbs(canvas, alpha=255.0 / core)
        ink_mass *= 255.0 / core
    return canvas, ink_mass


def _core_level(ink_u8: np.ndarray) -> float:
    """Brightness of the strokes' core: a high percentile of the inked pixels."""
    counts = cv2.calcHist([ink_u8], [0], None, [256], [0, 256]).ravel()
    counts[:INK_FLOOR + 1] = 0
    total = counts.sum()
    if total <= 0:
        return 0.0
    return float(np.searchsorted(np.cumsum(counts), CORE_PERCENTILE / 100.0 * total))


def _match_mnist_stroke(canvas: np.ndarray, ink_mass: float) -> np.ndarray:
    """Dilate or erode the digit on `canvas` (~WORK_PX long side) to MNIST's stroke width."""
    width_px = stroke_width_px(canvas, ink_mass)
    if width_px <= 0:
        return canvas
    long_side = max(cv2.boundingRect(cv2.threshold(canvas, INK_LEVEL, 255,
                                                   cv2.THRESH_BINARY)[1])[2:])
    # Growing the strokes by d also grows the box by d, and the box is what gets scaled to
    # 20 px: solve (width + d) * 20 / (long_side + d) = target for d.
    target = MNIST_STROKE_PX
    change_px = (target * long_side - DIGIT_PX * width_px) / (DIGIT_PX - target)
    if abs(change_px) * DIGIT_PX / long_side < STROKE_TOLERANCE_PX:
        return canvas
    if change_px > 0:
        diameter = min(round(change_px) + 1, 2 * CANVAS_MARGIN_PX - 1)
        return cv2.dilate(canvas, _disc(diameter))
    shrink_px = min(-change_px, MAX_ERODE_SHARE * width_px)
    diameter = round(shrink_px) + 1
    if diameter < 2:
        return canvas
    thinned = cv2.erode(canvas, _disc(diameter))
    return thinned if cv2.countNonZero(thinned) else canvas


def _place_centred(digit_u8: np.ndarray, patch: np.ndarray) -> None:
    """Paste `digit_u8` (<= 20x20) into the zeroed 28x28 `patch`, centre of mass at the centre.

    Values stay 0..255: the caller scales (all of a frame's patches in one multiplication).
    """
    moments = cv2.moments(digit_u8)
    if moments["m00"] <= 0:
        return
    height, width = digit_u8.shape
    # Whole-pixel shifts, as MNIST's own centring (its centres scatter +-0.5 px): no blur.
    left = round(CENTRE - moments["m10"] / moments["m00"])
    top = round(CENTRE - moments["m01"] / moments["m00"])
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + width, PATCH_PX), min(top + height, PATCH_PX)
    if x1 > x0 and y1 > y0:
        patch[y0:y1, x0:x1] = digit_u8[y0 - top:y1 - top, x0 - left:x1 - left]


def _normalize_into(ink_u8: np.ndarray, patch: np.ndarray, match_stroke: bool = True) -> None:
    """`normalize_digit` of uint8 ink already cropped to the digit (core at ~255), written into
    the zeroed `patch` as 0..255."""
    canvas, ink_mass = _work_canvas(ink_u8)
    if match_stroke:
        canvas = _match_mnist_stroke(canvas, ink_mass)
    x, y, w, h = _ink_box(canvas)
    if w and h:
        _place_centred(_resize_long_side(canvas[y:y + h, x:x + w], DIGIT_PX), patch)


def _resize_long_side(ink: np.ndarray, long_side_px: int) -> np.ndarray:
    height, width = ink.shape
    scale = long_side_px / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(ink, size, interpolation=interpolation)


def work_image(ink: np.ndarray) -> np.ndarray:
    """`ink` (white on black) as uint8, scaled to ~40 px on its long side and deskewed, on a
    canvas with a black margin: the stage where the stroke width is measured and adjusted."""
    ink_u8 = _to_ink_u8(ink)
    if ink_u8 is None:
        return np.zeros((1, 1), np.uint8)
    return _work_canvas(_crop_to_ink(ink_u8))[0]


def normalize_digit(ink: np.ndarray, match_stroke: bool = True) -> np.ndarray:
    """One digit's ink image (white on black, any size, uint8 or float) -> MNIST-like patch.

    Returns (28, 28) float32 in [0, 1]: deskewed, stroke width brought to MNIST's (unless
    `match_stroke` is False), long side fitted to 20 px, centre of mass at (14, 14). The
    strongest ink becomes 1.0. Blank input gives a blank patch.
    """
    patch = np.zeros((PATCH_PX, PATCH_PX), np.float32)
    ink_u8 = _to_ink_u8(ink)
    if ink_u8 is not None:
        _normalize_into(_crop_to_ink(ink_u8), patch, match_stroke)
        patch *= 1.0 / 255.0
    return patch


def padded_crop(box_xywh, frame_shape: tuple) -> tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) around a box: CROP_PAD_PX of paper on each side, within the
    frame."""
    x, y, w, h = box_xywh
    frame_h, frame_w = frame_shape[:2]
    return (max(x - CROP_PAD_PX, 0), max(y - CROP_PAD_PX, 0),
            min(x + w + CROP_PAD_PX, frame_w), min(y + h + CROP_PAD_PX, frame_h))


def own_ink(mask_crop: np.ndarray, box_in_crop: tuple[int, int, int, int]
            ) -> tuple[np.ndarray, bool]:
    """The part of `mask_crop` that belongs to the box (blobs reaching outside it are a
    neighbour's strokes passing through), and whether the crop outside the box is bare."""
    x, y, w, h = box_in_crop
    inside = cv2.countNonZero(mask_crop[y:y + h, x:x + w])
    if inside == cv2.countNonZero(mask_crop):  # the usual case: nothing around the box
        return mask_crop, True
    # 16-bit labels: a crop never holds 65535 blobs, and they are cheaper to make and map.
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask_crop, connectivity=8,
                                                           ltype=cv2.CV_16U)
    starts, sizes = stats[:, :2], stats[:, 2:4]
    keep = ((starts >= (x, y)) & (starts + sizes <= (x + w, y + h))).all(axis=1)
    keep[0] = False
    return (keep.astype(np.uint8) * np.uint8(255))[labels], False


def make_patches(gray: np.ndarray, mask: np.ndarray, boxes_xywh: np.ndarray) -> np.ndarray:
    """MNIST-like patches (N, 28, 28) float32 in [0, 1] for the digit boxes of a frame.

    `gray` is the frame (uint8, dark ink on light paper), `mask` its ink mask (255 = ink),
    `boxes_xywh` (N, 4) boxes from `contours.find_digit_boxes`. Ink strength comes from the
    grayscale (how much darker than the paper around the digit), so anti-aliasing survives;
    the mask decides which pixels may hold ink at all. A box without ink gives a blank patch.
    """
    mask = binary_mask(mask, "make_patches")
    boxes_xywh = np.asarray(boxes_xywh).reshape(-1, 4)
    patches = np.zeros((len(boxes_xywh), PATCH_PX, PATCH_PX), np.float32)
    near_kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    for i, (x, y, w, h) in enumerate(boxes_xywh.tolist()):
        x0, y0, x1, y1 = padded_crop((x, y, w, h), gray.shape)
        if x1 - x0 <= 2 * CROP_PAD_PX or y1 - y0 <= 2 * CROP_PAD_PX:
            continue
        bx, by = x - x0, y - y0  # the box inside the crop
        own, bare_ring = own_ink(mask[y0:y1, x0:x1], (bx, by, w, h))
        # The box is the mask's box and all of the own ink lies in it: the padding only holds
        # the paper around the digit and its strokes' soft edges.
        own_box = own[by:by + h, bx:bx + w]
        if not cv2.countNonZero(own_box):
            continue
        gray_crop = gray[y0:y1, x0:x1]
        gray_box = gray_crop[by:by + h, bx:bx + w]
        # The mask cuts strokes at the threshold; one pixel more keeps their soft edges.
        near_ink = cv2.dilate(own, near_kernel)
        ring_px = gray_crop.size - w * h
        if bare_ring and ring_px >= w + h:
            # The paper is what surrounds the box: two sums instead of a masked mean.
            paper = (cv2.sumElems(gray_crop)[0] - cv2.sumElems(gray_box)[0]) / ring_px
        else:
            paper = cv2.mean(gray_crop, mask=cv2.bitwise_not(near_ink))[0]
        contrast = paper - cv2.mean(gray_box, mask=own_box)[0]
        if contrast <= 1.0 or paper <= 0:  # no ink, or no paper around it to compare with
            continue
        # Darkness below the paper, scaled so that pixels as dark as the average ink pixel or
        # darker (the stroke's core) saturate at 255; zero away from the strokes.
        gain = 255.0 / contrast
        ink = cv2.addWeighted(gray_box, -gain, gray_box, 0.0, paper * gain)
        _normalize_into(cv2.min(ink, near_ink[by:by + h, bx:bx + w]), patches[i])
    patches *= 1.0 / 255.0
    return patches
