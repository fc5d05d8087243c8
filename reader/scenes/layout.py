"""Where numbers go on a page: lines of numbers, digits spaced like handwriting, never touching.

All sizes here are page pixels. Gaps are measured between the digits' ink boxes, so "0.1 of
the digit height" is a real gap of paper between two strokes, not between two padded cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reader.scenes.glyphs import GlyphBank, Stroke

DIGIT_GAP_RANGE = (0.10, 0.45)     # within a number, fraction of the line's digit height
NUMBER_GAP_RANGE = (1.0, 2.2)      # between numbers on a line
LINE_GAP_RANGE = (0.35, 0.9)       # between lines, ink bottom to next line's ink top
MAX_DIGITS_PER_NUMBER = 6
MIN_GAP_PX = 2                     # even tiny digits keep two pixels of paper between them


@dataclass(frozen=True)
class PlacedDigit:
    """A rendered digit on the page: label, ink coverage and the page position of its top-left."""

    label: int
    alpha: np.ndarray  # float32 (h, w), tight to the visible ink
    x: int
    y: int

    @property
    def box_xyxy(self) -> tuple[int, int, int, int]:
        """Page box of the visible ink, exclusive right/bottom."""
        h, w = self.alpha.shape
        return self.x, self.y, self.x + w, self.y + h


@dataclass(frozen=True)
class PlacedNumber:
    """A number written on the page: its digits left to right, and which line of its block."""

    digits: tuple[PlacedDigit, ...]
    line: int = 0

    @property
    def text(self) -> str:
        """The digits' labels read left to right."""
        return "".join(str(d.label) for d in self.digits)


@dataclass(frozen=True)
class BlockSpec:
    """What to write in a rectangle: line count and digit height range (page pixels)."""

    max_lines: int = 4
    height_range_px: tuple[float, float] = (24.0, 110.0)
    max_numbers_per_line: int = 3
    touching: float = 0.0   # chance that two neighbouring digits of a number touch


def lay_out_block(rng: np.random.Generator, glyphs: GlyphBank, rect_xyxy: tuple[int, int, int, int],
                  stroke: Stroke, spec: BlockSpec = BlockSpec()) -> list[PlacedNumber]:
    """Write 1..spec.max_lines lines of numbers inside `rect_xyxy` (page pixels).

    Heights shrink (down to the range's minimum) and numbers are shortened until everything
    fits; an empty list means not even one small digit fits.
    """
    x0, y0, x1, y1 = rect_xyxy
    avail_w, avail_h = x1 - x0, y1 - y0
    h_min, h_max = spec.height_range_px
    n_lines = int(rng.integers(1, spec.max_lines + 1))
    # A line needs its height plus the gap to the next: about 1.6 heights with slant and jitter.
    while n_lines > 1 and avail_h / (n_lines * 1.6) < h_min:
        n_lines -= 1
    fit_h = min(h_max, avail_h / (n_lines * 1.6), avail_w / 1.2)
    if fit_h < h_min:
        return []
    # Log-uniform: small handwriting is as common as large in photos.
    base_h = float(np.exp(rng.uniform(np.log(h_min), np.log(fit_h))))

    lines: list[list[PlacedNumber]] = []
    for _ in range(n_lines):
        line_h = float(np.clip(base_h * rng.uniform(0.88, 1.12), h_min, fit_h))
        line = _write_line(rng, glyphs, line_h, avail_w, stroke, spec)
        if line:
            lines.append(line)
    return _stack_lines(rng, lines, rect_xyxy)


def _write_line(rng: np.random.Generator, glyphs: GlyphBank, line_h: float, avail_w: int,
                stroke: Stroke, spec: BlockSpec) -> list[PlacedNumber]:
    """Render one line's numbers at x, y relative to the line's start and baseline.

    Glyphs and gaps are drawn once; if the line is too wide, whole numbers (then digits of the
    only number) are dropped from the end until it fits.
    """
    n_numbers = int(rng.integers(1, spec.max_numbers_per_line + 1))
    slope = rng.uniform(-0.03, 0.03)       # handwriting drifts off the horizontal
    # Per number: the gap before it, then (gap before, glyph, baseline wobble) per digit.
    written = []
    for k in range(n_numbers):
        number_gap = max(MIN_GAP_PX, rng.uniform(*NUMBER_GAP_RANGE) * line_h) if k else 0.0
        digits = []
        for i in range(int(rng.integers(1, MAX_DIGITS_PER_NUMBER + 1))):
            gap = max(MIN_GAP_PX, rng.uniform(*DIGIT_GAP_RANGE) * line_h) if i else 0.0
            if i and spec.touching > 0 and rng.random() < spec.touching:
                # Negative: a touching pair; its ink overlaps by -gap - 1 (0-2) pixels.
                gap = -1.0 - float(rng.integers(0, 3))
            height = float(np.clip(line_h * rng.uniform(0.92, 1.08), *spec.height_range_px))
            glyph = glyphs.render(rng, int(rng.integers(10)), height, stroke,
                                  aspect=float(rng.uniform(0.85, 1.15)))
            digits.append((gap, glyph, rng.uniform(-0.05, 0.05) * line_h))
        written.append((number_gap, digits))

    while written:
        numbers, cursor = _place_line(written, slope)
        if cursor <= avail_w:
            return numbers
        if len(written) > 1:
            written.pop()
        elif len(written[0][1]) > 1:
            written[0][1].pop()
        else:
            return []
    return []


def _place_line(written: list, slope: float) -> tuple[list[PlacedNumber], float]:
    """Positions for a line's glyphs; returns the numbers and the line's width."""
    numbers = []
    cursor = 0.0
    for number_gap, digits in written:
        cursor += number_gap
        placed = []
        for gap, glyph, wobble in digits:
            h, w = glyph.alpha.shape
            if gap < 0 and placed:
                # Touching: slid left until its ink meets the previous digit's, -gap px into it.
                y = round(slope * cursor + wobble - h)
                x = _contact_x(placed[-1], glyph.alpha, y, int(-gap) - 1)
                cursor = x if x is not None else cursor + MIN_GAP_PX
                placed.append(PlacedDigit(glyph.label, glyph.alpha, round(cursor), y))
                cursor = round(cursor) + w
                continue
            cursor += gap
            # Bottom-aligned on a sloping baseline, with a little wobble.
            baseline = slope * cursor + wobble
            placed.append(PlacedDigit(glyph.label, glyph.alpha, round(cursor),
                                      round(baseline - h)))
            cursor = round(cursor) + w
        numbers.append(PlacedNumber(tuple(placed)))
    return numbers, cursor


def _contact_x(left: PlacedDigit, alpha: np.ndarray, y: int, overlap_px: int) -> float | None:
    """The x at which a glyph at row `y` touches `left`'s ink, reaching `overlap_px` into it.

    None when the two share no inked row.
    """
    from reader.scenes.glyphs import INK_ALPHA

    left_ink = left.alpha > INK_ALPHA
    new_ink = alpha > INK_ALPHA
    top, bottom = max(left.y, y), min(left.y + left_ink.shape[0], y + new_ink.shape[0])
    best = None
    for row in range(top, bottom):
        a, b = left_ink[row - left.y], new_ink[row - y]
        if not a.any() or not b.any():
            continue
        right_of_left = left.x + int(np.flatnonzero(a)[-1])
        left_of_new = int(np.flatnonzero(b)[0])
        x = right_of_left + 1 - overlap_px - left_of_new  # adjacent columns touch (8-connected)
        best = x if best is None else max(best, x)
    return None if best is None else float(best)


def _stack_lines(rng: np.random.Generator, lines: list[list[PlacedNumber]],
                 rect_xyxy: tuple[int, int, int, int]) -> list[PlacedNumber]:
    """Place lines top to bottom inside the rectangle; drop lines that no longer fit."""
    x0, y0, x1, y1 = rect_xyxy
    extents = []   # (left, top, right, bottom) of each line's ink, line-relative
    for line in lines:
        boxes = np.array([d.box_xyxy for n in line for d in n.digits])
        extents.append((boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()))
    heights = [e[3] - e[1] for e in extents]
    gaps = [max(MIN_GAP_PX, rng.uniform(*LINE_GAP_RANGE) * h) for h in heights]
    while lines and sum(heights) + sum(gaps[:-1]) > y1 - y0:
        lines, extents, heights, gaps = lines[:-1], extents[:-1], heights[:-1], gaps[:-1]
    if not lines:
        return []
    total_h = sum(heights) + sum(gaps[:-1])
    top = y0 + rng.uniform(0, (y1 - y0) - total_h)
    widest = max(e[2] - e[0] for e in extents)
    aligned = rng.random() < 0.6           # a block of lines often shares a left margin
    block_left = x0 + rng.uniform(0, (x1 - x0) - widest)
    placed: list[PlacedNumber] = []
    for line_index, (line, extent, height, gap) in enumerate(zip(lines, extents, heights, gaps)):
        width = extent[2] - extent[0]
        if aligned:
            left = block_left + rng.uniform(-0.02, 0.02) * width
            left = min(max(left, x0), x1 - width)
        else:
            left = x0 + rng.uniform(0, (x1 - x0) - width)
        dx = round(left - extent[0])
        dy = round(top - extent[1])
        for number in line:
            placed.append(PlacedNumber(tuple(
                PlacedDigit(d.label, d.alpha, d.x + dx, d.y + dy) for d in number.digits),
                line=line_index))
        top += height + gap
    return placed
