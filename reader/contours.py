"""Digit boxes: which blobs of an ink mask look like one handwritten digit each.

The mask's 8-connected blobs are candidates, measured by connected-components labelling with
statistics: no per-blob Python, so a frame of thousands of specks costs about what a clean one
does (tracing contours costs per blob). Most of a real frame's blobs are not digits: specks of
noise, ruling lines, the page edge, a finger at the border, shadows. They are dropped by shape,
all at once with numpy: size relative to the frame, aspect ratio, and whether they touch the
frame border (a cut-off digit cannot be read). Blots, thumbs and shadows of a digit's size are
left to the classifier, which has a "not a digit" class. Where specks are
dense enough to chain into digit-sized blobs by chance, blobs much smaller than the frame's
largest are dropped too (`_noise_floor_px`).

One repair is made: a digit often breaks into a body and a detached flat stroke above or below
it (a 5 whose top bar does not touch, a 7 or a 4 written in two strokes). Such a flat piece is
merged into the digit it sits on when it lies within the digit's columns, is at most half its
height and is separated by at most a quarter of its height. Two digit-sized pieces are merged
only under tight guards (`_merge_stacked_pieces`): a stroke broken by a pen skip or motion blur
(a 6's stem off its loop) leaves a gap narrower than the pen's stroke, one digit tall, with no
digits of their own height beside either piece; digits on two close text lines have a gap of
several strokes, or line-mates beside them.
"""

from __future__ import annotations

import cv2
import numpy as np

from reader.ink import binary_mask, stroke_width_px

MIN_DIGIT_HEIGHT_PX = 10        # smaller than this the classifier cannot read it anyway
MAX_DIGIT_HEIGHT_SHARE = 0.9    # of the frame height; taller is a page edge or a shadow
MAX_DIGIT_WIDTH_SHARE = 0.9     # of the frame width
# Digits are seldom much wider than tall (a flat 0 or 2 reaches ~1.7); wider is a line, a dash
# or a smear.
MAX_WIDTH_PER_HEIGHT = 2.0
# A '1' can be a bare vertical stroke of any thinness; a thin box is kept unless it is far
# taller than the other digits in the frame (then it is a ruling line or a margin).
THIN_WIDTH_PER_HEIGHT = 0.2
MAX_THIN_HEIGHT_PER_MEDIAN = 2.5
# A '1' is written with the same pen as its neighbours; a thin box whose stroke is much finer
# than the frame's other digits' is a fragment of a faint ruling line (printed lines are
# hairlines next to pen ink: 0.25-0.34 of its width on real photos, '1's 0.7-1.5; the width
# estimate runs high on digits with many junctions, so a bare '1' can measure ~0.5; shares
# measured with the 4-neighbour edge count, which read slanted pens ~15% thinner than
# `ink.stroke_width_px` does, hence 0.35 rather than 0.4).
MIN_THIN_STROKE_SHARE = 0.35
# Merging a detached flat stroke into the digit under or over it (see the module docstring).
MERGE_MAX_HEIGHT_SHARE = 0.5
MERGE_MIN_WIDTH_SHARE = 0.3
MERGE_MAX_WIDTH_SHARE = 1.25
MERGE_MIN_COLUMN_OVERLAP = 0.6  # share of the piece's width inside the digit's columns
MERGE_MAX_GAP_SHARE = 0.25      # of the digit's height
FLAT_WIDTH_PER_HEIGHT = 1.5     # a digit-like box this much wider than tall may be a piece
# A flat piece of a digit (a 5's bar) can be short, but not a dot: the width plus height of its
# box is at least this (an outline of about MIN_DIGIT_HEIGHT_PX boundary pixels).
MIN_PIECE_EXTENT_PX = MIN_DIGIT_HEIGHT_PX // 2 + 2
# Specks (blobs too small to be a digit) covering this share of the frame lie close enough to
# chain into digit-sized blobs by chance...
NOISY_SPECK_COVER = 0.01
# ...and a blob must then be at least this share of the height of the frame's tallest blobs
# (the median of the tallest few) to be taken for a digit.
NOISY_MIN_HEIGHT_SHARE = 0.5
NOISY_REFERENCE_COUNT = 5
# Two stacked digit-like pieces are one digit broken across (see `_merge_stacked_pieces`) when
# they share most of the narrower one's columns, the gap is at most this share of the merged
# height (text lines sit >= ~0.17 apart) and at most 1.25 pen strokes (`ink.stroke_width_px`
# of the pieces, which reads ~15% wider than the 4-neighbour edge count it was tuned with:
# 1.25 here is that count's 1.5), and the merged box is no wider than tall.
STACK_MIN_COLUMN_OVERLAP = 0.6
STACK_MAX_GAP_SHARE = 0.1
STACK_MAX_GAP_STROKES = 1.25
STACK_MAX_WIDTH_PER_HEIGHT = 1.0
# A box beside a piece (within this many merged heights), overlapping at least half of the
# piece's rows and not reaching this share into the other piece, makes the piece a line-mate:
# the pieces are then digits of two text lines.
STACK_MATE_REACH = 1.5
STACK_MATE_INTO_OTHER = 0.25
# The mask is labelled in at most this many bands of inked rows (see `_blob_stats`).
MAX_BANDS = 16


def _label_stats(mask: np.ndarray) -> np.ndarray:
    """(x, y, w, h, area) rows, int32, of the 8-connected blobs of `mask` (no background)."""
    # 16-bit labels are ~3x faster than 32-bit ones here; only a frame of more than 65535
    # separate specks overflows them (OpenCV then raises, and we pay for 32 bits).
    try:
        stats = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_16U)[2]
    except cv2.error:
        stats = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)[2]
    return stats[1:]


def _blob_stats(mask: np.ndarray) -> np.ndarray:
    """`_label_stats` of the whole frame's mask, labelled band by band (frame coordinates)."""
    # Labelling costs per pixel, and most of a page is bare paper: a blob never crosses a row
    # without ink, so each band of inked rows is labelled on its own, cropped to its ink.
    inked_rows = cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() > 0
    edges = np.flatnonzero(np.diff(inked_rows, prepend=False, append=False))
    starts, stops = edges[::2], edges[1::2]
    if starts.size > MAX_BANDS:
        # Split at the widest gaps only: a bounded number of calls, little bare paper labelled.
        splits = np.sort(np.argsort(starts[1:] - stops[:-1], kind="stable")[1 - MAX_BANDS:])
        starts = np.concatenate((starts[:1], starts[splits + 1]))
        stops = np.concatenate((stops[splits], stops[-1:]))
    parts = [np.zeros((0, 5), np.int32)]
    for top, bottom in zip(starts.tolist(), stops.tolist()):
        band = mask[top:bottom]
        left, _, width, _ = cv2.boundingRect(band)
        stats = _label_stats(band[:, left:left + width])
        stats[:, 0] += left
        stats[:, 1] += top
        parts.append(stats)
    return np.concatenate(parts)


def _noise_floor_px(heights: np.ndarray, speck_ink_px: int, frame_shape: tuple[int, int]
                    ) -> float:
    """The least height a digit can have in this frame, given its specks.

    `heights`: the candidate blobs' heights; `speck_ink_px`: the ink of the blobs too small to
    be a digit. Specks lying close together chain into blobs of a digit's size by chance, and
    nothing in a chain's shape tells it from a small digit written with a thin pen. So where
    the specks are dense enough to chain, only blobs of a good share of the height of the
    frame's tallest ones are taken: the digits of one page are written at about one size.
    """
    frame_h, frame_w = frame_shape
    if speck_ink_px < NOISY_SPECK_COVER * frame_h * frame_w or heights.size == 0:
        return float(MIN_DIGIT_HEIGHT_PX)
    count = min(NOISY_REFERENCE_COUNT, heights.size)
    reference = float(np.median(np.partition(heights, heights.size - count)[-count:]))
    return max(float(MIN_DIGIT_HEIGHT_PX), NOISY_MIN_HEIGHT_SHARE * reference)


def _digit_like(boxes_xywh: np.ndarray, frame_shape: tuple[int, int],
                max_width_per_height: float = MAX_WIDTH_PER_HEIGHT) -> np.ndarray:
    """Which boxes have a digit's size and aspect (ignoring the other boxes)."""
    frame_h, frame_w = frame_shape
    w = boxes_xywh[:, 2].astype(np.float64)
    h = boxes_xywh[:, 3].astype(np.float64)
    return ((h >= MIN_DIGIT_HEIGHT_PX) & (h <= MAX_DIGIT_HEIGHT_SHARE * frame_h)
            & (w <= MAX_DIGIT_WIDTH_SHARE * frame_w) & (w <= max_width_per_height * h))


def _merge_flat_pieces(boxes_xywh: np.ndarray, is_digit: np.ndarray) -> np.ndarray:
    """Grow digit boxes over detached flat strokes above/below them; return the kept boxes.

    A digit-like box wider than tall (`FLAT_WIDTH_PER_HEIGHT`) may be such a stroke too (the
    bar of a 5 broken off its body): it joins a digit it fits, and stays a digit (a wide 0 or
    2) when it fits none.
    """
    w = boxes_xywh[:, 2].astype(np.float64)
    flat = is_digit & (w > FLAT_WIDTH_PER_HEIGHT * boxes_xywh[:, 3])
    hosts = np.flatnonzero(is_digit)
    pieces = np.flatnonzero(~is_digit | flat)
    if hosts.size == 0 or pieces.size == 0:
        return boxes_xywh[hosts]
    hx, hy, hw, hh = (boxes_xywh[hosts, k][None, :].astype(np.float64) for k in range(4))
    px, py, pw, ph = (boxes_xywh[pieces, k][:, None].astype(np.float64) for k in range(4))
    column_overlap = np.minimum(px + pw, hx + hw) - np.maximum(px, hx)
    gap = np.maximum(py, hy) - np.minimum(py + ph, hy + hh)  # negative when rows overlap
    fits = ((column_overlap >= MERGE_MIN_COLUMN_OVERLAP * pw)
            & (ph <= MERGE_MAX_HEIGHT_SHARE * hh)
            & (pw >= MERGE_MIN_WIDTH_SHARE * hw) & (pw <= MERGE_MAX_WIDTH_SHARE * hw)
            & (gap <= MERGE_MAX_GAP_SHARE * hh)
            & (pieces[:, None] != hosts[None, :]))
    merged = boxes_xywh[hosts].astype(np.int64)
    x0, y0 = merged[:, 0].copy(), merged[:, 1].copy()
    x1, y1 = x0 + merged[:, 2], y0 + merged[:, 3]
    # Each piece joins the nearest digit it fits; a piece never joins two digits.
    gap_if_fits = np.where(fits, gap, np.inf)
    best_host = np.argmin(gap_if_fits, axis=1)
    absorbed = np.zeros(len(hosts), bool)
    for piece_index in np.flatnonzero(np.isfinite(gap_if_fits.min(axis=1))):
        host = best_host[piece_index]
        x, y, w, h = boxes_xywh[pieces[piece_index]]
        x0[host], y0[host] = min(x0[host], x), min(y0[host], y)
        x1[host], y1[host] = max(x1[host], x + w), max(y1[host], y + h)
        absorbed |= hosts == pieces[piece_index]  # a flat digit-like piece is no digit now
    kept = ~absorbed
    return np.stack([x0[kept], y0[kept], (x1 - x0)[kept], (y1 - y0)[kept]],
                    axis=1).astype(np.int32)


def _merge_stacked_pieces(mask: np.ndarray, boxes_xywh: np.ndarray) -> np.ndarray:
    """Join pairs of stacked boxes that are one digit broken across (a 6's stem and loop)."""
    count = len(boxes_xywh)
    if count < 2:
        return boxes_xywh
    x, y, w, h = (boxes_xywh[:, k].astype(np.float64) for k in range(4))
    right, bottom = x + w, y + h
    # Pair (i above j): gap between i's bottom and j's top; merged extents.
    gap = y[None, :] - bottom[:, None]
    merged_h = np.maximum(bottom[:, None], bottom[None, :]) - np.minimum(y[:, None], y[None, :])
    merged_w = np.maximum(right[:, None], right[None, :]) - np.minimum(x[:, None], x[None, :])
    overlap = np.minimum(right[:, None], right[None, :]) - np.maximum(x[:, None], x[None, :])
    pairs = ((gap >= 0) & (gap <= STACK_MAX_GAP_SHARE * merged_h)
             & (overlap >= STACK_MIN_COLUMN_OVERLAP * np.minimum(w[:, None], w[None, :]))
             & (merged_w <= STACK_MAX_WIDTH_PER_HEIGHT * merged_h))
    if not pairs.any():
        return boxes_xywh
    merged = boxes_xywh.astype(np.int64)
    absorbed = np.zeros(count, bool)
    tops, bottoms = np.nonzero(pairs)
    for top, low in sorted(zip(tops.tolist(), bottoms.tolist()), key=lambda p: gap[p]):
        if (absorbed[top] or absorbed[low]
                or _has_line_mate(boxes_xywh, top, low, merged_h[top, low])):
            continue
        pen_px = min(_box_stroke_px(mask, boxes_xywh[top]),
                     _box_stroke_px(mask, boxes_xywh[low]))
        if gap[top, low] > STACK_MAX_GAP_STROKES * pen_px:
            continue
        x0, y0 = min(x[top], x[low]), y[top]
        merged[top] = (x0, y0, max(right[top], right[low]) - x0, bottom[low] - y0)
        absorbed[low] = True
        absorbed[top] = True  # each box joins at most one other
        merged[low] = -1
    keep = merged[:, 0] >= 0
    return merged[keep].astype(np.int32)


def _has_line_mate(boxes_xywh: np.ndarray, top: int, low: int, merged_h: float) -> bool:
    """Whether a box beside the top or the low piece sits in that piece's rows alone (a digit
    of the same text line as the piece, so the pieces are digits of two lines)."""
    x, y, w, h = (boxes_xywh[:, k].astype(np.float64) for k in range(4))
    left = min(x[top], x[low]) - STACK_MATE_REACH * merged_h
    right = max(x[top] + w[top], x[low] + w[low]) + STACK_MATE_REACH * merged_h
    beside = (x + w >= left) & (x <= right)
    beside[[top, low]] = False
    for piece, other in ((top, low), (low, top)):
        rows = np.minimum(y + h, y[piece] + h[piece]) - np.maximum(y, y[piece])
        if other == low:  # how far a box reaches down into the low piece
            into = y + h - y[other]
        else:             # how far it reaches up into the top piece
            into = y[other] + h[other] - y
        mate = (beside & (rows >= 0.5 * np.minimum(h, h[piece]))
                & (into <= STACK_MATE_INTO_OTHER * h[other]))
        if mate.any():
            return True
    return False


def _box_stroke_px(mask: np.ndarray, box_xywh: np.ndarray) -> float:
    """Mean stroke width of the ink in a box of the mask (`ink.stroke_width_px`)."""
    x, y, w, h = (int(v) for v in box_xywh)
    return stroke_width_px(mask[y:y + h, x:x + w])


def find_digit_boxes(mask: np.ndarray, max_candidates: int = 100,
                     max_width_per_height: float = MAX_WIDTH_PER_HEIGHT,
                     with_pieces: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) int32 (x, y, w, h) of the blobs in `mask` that look like single digits.

    Sorted left to right, at most `max_candidates`. Only the `max_candidates` largest blobs
    (by box area, after dropping specks, blobs touching the border and, in a frame of dense
    specks, blobs far smaller than its largest) are examined, so a frame full of noise stays
    fast. `max_width_per_height` lets wider blobs through (touching digits, for a reader
    that cuts them by recognition). With `with_pieces`, also returns the blobs too small or
    flat to be a digit on their own (a 5's detached bar), sorted the same way, for a reader
    that merges pieces by recognition.
    """
    mask = binary_mask(mask, "find_digit_boxes")
    frame_h, frame_w = mask.shape
    stats = _blob_stats(mask)
    x, y, w, h = (stats[:, k] for k in range(4))
    areas = stats[:, cv2.CC_STAT_AREA]
    speck = (h < MIN_DIGIT_HEIGHT_PX) & (w < MIN_DIGIT_HEIGHT_PX)
    inside = (x > 0) & (y > 0) & (x + w < frame_w) & (y + h < frame_h)
    not_huge = (h <= MAX_DIGIT_HEIGHT_SHARE * frame_h) & (w <= MAX_DIGIT_WIDTH_SHARE * frame_w)
    keep = inside & not_huge & (w + h >= MIN_PIECE_EXTENT_PX)
    floor_px = _noise_floor_px(h[keep & (h >= MIN_DIGIT_HEIGHT_PX)],
                               int(areas[speck].sum()), mask.shape)
    if floor_px > MIN_DIGIT_HEIGHT_PX:
        keep &= h >= floor_px
    boxes = stats[keep, :4]
    if len(boxes) > max_candidates:
        box_areas = boxes[:, 2].astype(np.int64) * boxes[:, 3]
        boxes = boxes[np.argsort(-box_areas, kind="stable")[:max_candidates]]
    none = np.zeros((0, 4), np.int32)
    if len(boxes) == 0:
        return (none, none) if with_pieces else none

    # Blots, thumbs and shadows are left to the classifier ("not a digit").
    is_digit = _digit_like(boxes, mask.shape, max_width_per_height)
    pieces = boxes[~is_digit]
    pieces = pieces[np.argsort(pieces[:, 0], kind="stable")].astype(np.int32)
    boxes = _merge_flat_pieces(boxes, is_digit)
    if len(boxes) == 0:
        return (none, pieces) if with_pieces else none
    boxes = _merge_stacked_pieces(mask, boxes)

    # Ruling lines and page margins: thin like a '1' but much taller than the frame's digits,
    # or (pieces of a faint ruling) of a far finer stroke than theirs. Measured only when a thin
    # box is there: ~10 us a box.
    w, h = boxes[:, 2], boxes[:, 3]
    thin = w < THIN_WIDTH_PER_HEIGHT * h
    if np.any(~thin) and np.any(thin):
        typical_height = float(np.median(h[~thin]))
        pen_px = float(np.median([_box_stroke_px(mask, box) for box in boxes[~thin]]))
        fine = np.array([_box_stroke_px(mask, box) < MIN_THIN_STROKE_SHARE * pen_px
                         if is_thin else False for box, is_thin in zip(boxes, thin)])
        boxes = boxes[~thin | ((h <= MAX_THIN_HEIGHT_PER_MEDIAN * typical_height) & ~fine)]
    boxes = boxes[np.argsort(boxes[:, 0], kind="stable")].astype(np.int32)
    return (boxes, pieces) if with_pieces else boxes
