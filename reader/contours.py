"""Digit boxes: which blobs of an ink mask look like one handwritten digit each.

Outer contours of the mask are candidates. Most of a real frame's blobs are not digits: specks
of noise, ruling lines, the page edge, a finger at the border, shadows. They are dropped by
shape, all at once with numpy: size relative to the frame, aspect ratio, how much of the box is
ink, and whether they touch the frame border (a cut-off digit cannot be read).

One repair is made: a digit often breaks into a body and a detached flat stroke above or below
it (a 5 whose top bar does not touch, a 7 or a 4 written in two strokes). Such a flat piece is
merged into the digit it sits on when it lies within the digit's columns, is at most half its
height and is separated by at most a quarter of its height. Two digit-sized pieces are never
merged (an 8 broken at the waist stays two boxes): that would also glue digits on neighbouring
lines together.
"""

from __future__ import annotations

import cv2
import imutils
import numpy as np

MIN_DIGIT_HEIGHT_PX = 10        # smaller than this the classifier cannot read it anyway
MAX_DIGIT_HEIGHT_SHARE = 0.9    # of the frame height; taller is a page edge or a shadow
MAX_DIGIT_WIDTH_SHARE = 0.9     # of the frame width
MAX_WIDTH_PER_HEIGHT = 1.5      # digits are taller than wide; wider is a line, a dash, a smear
# A '1' can be a bare vertical stroke of any thinness; a thin box is kept unless it is far
# taller than the other digits in the frame (then it is a ruling line or a margin).
THIN_WIDTH_PER_HEIGHT = 0.2
MAX_THIN_HEIGHT_PER_MEDIAN = 2.5
# A solid box is a blot, a thumb or a shadow, unless it is narrow: a short thick '1' fills its
# box too.
MAX_INK_FILL = 0.85
BLOT_MIN_WIDTH_PER_HEIGHT = 0.4
# Merging a detached flat stroke into the digit under or over it (see the module docstring).
MERGE_MAX_HEIGHT_SHARE = 0.5
MERGE_MIN_WIDTH_SHARE = 0.3
MERGE_MAX_WIDTH_SHARE = 1.25
MERGE_MIN_COLUMN_OVERLAP = 0.6  # share of the piece's width inside the digit's columns
MERGE_MAX_GAP_SHARE = 0.25      # of the digit's height


def _outer_contour_boxes(mask: np.ndarray, min_points: int) -> np.ndarray:
    """Bounding boxes (x, y, w, h) of the outer contours with at least `min_points` points."""
    # CHAIN_APPROX_NONE keeps one point per boundary pixel, so the point count is the
    # perimeter: specks are dropped by a length check before any per-contour work.
    contours = imutils.grab_contours(
        cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE))
    if not contours:
        return np.zeros((0, 4), np.int32)
    lengths = np.fromiter(map(len, contours), dtype=np.int64, count=len(contours))
    keep = np.flatnonzero(lengths >= min_points)
    if keep.size == 0:
        return np.zeros((0, 4), np.int32)
    points = np.concatenate([contours[i] for i in keep]).reshape(-1, 2)
    starts = np.concatenate(([0], np.cumsum(lengths[keep])[:-1]))
    x0 = np.minimum.reduceat(points[:, 0], starts)
    y0 = np.minimum.reduceat(points[:, 1], starts)
    x1 = np.maximum.reduceat(points[:, 0], starts)
    y1 = np.maximum.reduceat(points[:, 1], starts)
    return np.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], axis=1).astype(np.int32)


def _ink_fill(mask: np.ndarray, boxes_xywh: np.ndarray) -> np.ndarray:
    """Share of each box's pixels that are ink."""
    fill = np.empty(len(boxes_xywh), np.float64)
    for i, (x, y, w, h) in enumerate(boxes_xywh):
        fill[i] = cv2.countNonZero(mask[y:y + h, x:x + w]) / float(w * h)
    return fill


def _digit_like(boxes_xywh: np.ndarray, fill: np.ndarray, frame_shape: tuple[int, int]
                ) -> np.ndarray:
    """Which boxes have a digit's size, aspect and ink fill (ignoring the other boxes)."""
    frame_h, frame_w = frame_shape
    w = boxes_xywh[:, 2].astype(np.float64)
    h = boxes_xywh[:, 3].astype(np.float64)
    narrow = w < BLOT_MIN_WIDTH_PER_HEIGHT * h
    return ((h >= MIN_DIGIT_HEIGHT_PX) & (h <= MAX_DIGIT_HEIGHT_SHARE * frame_h)
            & (w <= MAX_DIGIT_WIDTH_SHARE * frame_w) & (w <= MAX_WIDTH_PER_HEIGHT * h)
            & (narrow | (fill <= MAX_INK_FILL)))


def _merge_flat_pieces(boxes_xywh: np.ndarray, is_digit: np.ndarray) -> np.ndarray:
    """Grow digit boxes over detached flat strokes above/below them; return the kept boxes."""
    hosts = np.flatnonzero(is_digit)
    pieces = np.flatnonzero(~is_digit)
    if hosts.size == 0 or pieces.size == 0:
        return boxes_xywh[hosts]
    hx, hy, hw, hh = (boxes_xywh[hosts, k][None, :].astype(np.float64) for k in range(4))
    px, py, pw, ph = (boxes_xywh[pieces, k][:, None].astype(np.float64) for k in range(4))
    column_overlap = np.minimum(px + pw, hx + hw) - np.maximum(px, hx)
    gap = np.maximum(py, hy) - np.minimum(py + ph, hy + hh)  # negative when rows overlap
    fits = ((column_overlap >= MERGE_MIN_COLUMN_OVERLAP * pw)
            & (ph <= MERGE_MAX_HEIGHT_SHARE * hh)
            & (pw >= MERGE_MIN_WIDTH_SHARE * hw) & (pw <= MERGE_MAX_WIDTH_SHARE * hw)
            & (gap <= MERGE_MAX_GAP_SHARE * hh))
    merged = boxes_xywh[hosts].astype(np.int64)
    x0, y0 = merged[:, 0].copy(), merged[:, 1].copy()
    x1, y1 = x0 + merged[:, 2], y0 + merged[:, 3]
    # Each piece joins the nearest digit it fits; a piece never joins two digits.
    gap_if_fits = np.where(fits, gap, np.inf)
    best_host = np.argmin(gap_if_fits, axis=1)
    for piece_index in np.flatnonzero(np.isfinite(gap_if_fits.min(axis=1))):
        host = best_host[piece_index]
        x, y, w, h = boxes_xywh[pieces[piece_index]]
        x0[host], y0[host] = min(x0[host], x), min(y0[host], y)
        x1[host], y1[host] = max(x1[host], x + w), max(y1[host], y + h)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.int32)


def find_digit_boxes(mask: np.ndarray, max_candidates: int = 100) -> np.ndarray:
    """Boxes (N, 4) int32 (x, y, w, h) of the blobs in `mask` that look like single digits.

    Sorted left to right, at most `max_candidates`. Only the `max_candidates` largest blobs
    (by box area, after dropping specks and border-touching blobs) are examined, so a frame
    full of noise stays fast.
    """
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"find_digit_boxes wants a 2-D uint8 mask, got {mask.dtype}"
                         f" {mask.shape}")
    frame_h, frame_w = mask.shape
    # A flat piece of a digit (a 5's bar) can be short, but not a dot: at least about as long
    # as a minimal digit is tall. One boundary point per pixel, around both sides.
    boxes = _outer_contour_boxes(mask, min_points=MIN_DIGIT_HEIGHT_PX)
    if len(boxes) == 0:
        return boxes
    x, y, w, h = boxes.T
    inside = (x > 0) & (y > 0) & (x + w < frame_w) & (y + h < frame_h)
    not_huge = (h <= MAX_DIGIT_HEIGHT_SHARE * frame_h) & (w <= MAX_DIGIT_WIDTH_SHARE * frame_w)
    boxes = boxes[inside & not_huge]
    if len(boxes) > max_candidates:
        areas = boxes[:, 2].astype(np.int64) * boxes[:, 3]
        boxes = boxes[np.argsort(-areas, kind="stable")[:max_candidates]]
    if len(boxes) == 0:
        return boxes.reshape(0, 4)

    fill = _ink_fill(mask, boxes)
    boxes = _merge_flat_pieces(boxes, _digit_like(boxes, fill, mask.shape))
    if len(boxes) == 0:
        return boxes.reshape(0, 4)

    # Ruling lines and page margins: thin like a '1' but much taller than the frame's digits.
    w, h = boxes[:, 2], boxes[:, 3]
    thin = w < THIN_WIDTH_PER_HEIGHT * h
    if np.any(~thin):
        typical_height = float(np.median(h[~thin]))
        boxes = boxes[~thin | (h <= MAX_THIN_HEIGHT_PER_MEDIAN * typical_height)]
    return boxes[np.argsort(boxes[:, 0], kind="stable")].astype(np.int32)
