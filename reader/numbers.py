"""Group read digits into numbers: digits on one line, close together, read left to right.

Lines: digits are swept left to right and each joins a line whose rightmost digit it overlaps
vertically by at least half of the smaller of the two heights (the nearest such line, if
several), once that digit is moved along the line's tilt so far. Comparing with the line's last
digit (not the whole line's span) lets a rotated line chain along, and measuring against the
smaller height lets a short '1' join its neighbours. Lines are read in order of where they
cross the left edge when followed along the page's median tilt.

Numbers: a line is split wherever the horizontal gap between neighbours exceeds `gap_ratio` of
a reference height: the taller of the two neighbours, or the median height of the number built
so far if that is larger. Local heights (not the whole line's median) let a big number and a
small one on the same line each split at their own scale; the taller neighbour and the number's
median keep short '1's (even "11") from splitting their number. One exception: where the size of
the writing changes, from a number's digits to a neighbour clearly taller or shorter than them
(by `SIZE_CHANGE_RATIO`), the reference is the smaller of the two sizes. Digits of one number are
written at one size; a big number beside a small one are two numbers even when the gap is small
next to the big one's height. A narrow digit (a '1') only counts as a change when it is taller:
short '1's are common inside numbers.

A number's confidence is the minimum of its digits' confidences: a number is only as right as
its least sure digit, and the minimum reads directly as "the weakest digit was this sure".
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from statistics import median

from reader.detections import BoxXYWH, Digit, Number

MIN_LINE_OVERLAP = 0.5  # vertical overlap / smaller height to share a line
NUMBER_GAP_RATIO = 0.7  # horizontal gap / taller neighbour's height that starts a new number
SIZE_CHANGE_RATIO = 1.35  # neighbour height / the number's median height that is a new number
NARROW_WIDTH_PER_HEIGHT = 0.3  # a '1': its height says little about the size of the writing
MAX_SLOPE = 0.36  # steepest line tilt followed (about 20 degrees); beyond is noise, not tilt


def group_numbers(digits: Sequence[Digit], gap_ratio: float = NUMBER_GAP_RATIO,
                  min_line_overlap: float = MIN_LINE_OVERLAP) -> list[Number]:
    """Group digits (in any order) into numbers, sorted lines top to bottom, left to right."""
    if not digits:
        return []
    lines = _split_lines(digits, min_line_overlap)
    slopes = [_line_slope(line) for line in lines if len(line) > 1]
    page_slope = median(slopes) if slopes else 0.0
    lines.sort(key=lambda line: _line_sort_key(line, page_slope))
    numbers: list[Number] = []
    for line in lines:
        numbers.extend(_make_number(run) for run in _split_line(line, gap_ratio))
    return numbers


def union_box(boxes_xywh: Sequence[BoxXYWH]) -> BoxXYWH:
    """The smallest (x, y, w, h) box holding all of `boxes_xywh` (which must not be empty)."""
    left = min(b[0] for b in boxes_xywh)
    top = min(b[1] for b in boxes_xywh)
    right = max(b[0] + b[2] for b in boxes_xywh)
    bottom = max(b[1] + b[3] for b in boxes_xywh)
    return (int(left), int(top), int(right - left), int(bottom - top))


def _split_lines(digits: Sequence[Digit], min_line_overlap: float) -> list[list[Digit]]:
    # At most ~50 digits and a handful of lines per frame: a plain sweep is cheap and clear.
    lines: list[list[Digit]] = []
    slopes: list[float] = []  # each line's tilt so far, updated as it grows
    for digit in sorted(digits, key=lambda d: (d.box[0], d.box[1])):
        left, top, width, height = digit.box
        centre_x = left + width / 2
        # Of the lines it overlaps enough, join the one ending nearest: on a tilted page a line
        # ending far to the left may sit at this digit's height while its own line is closer.
        best_index, best_gap = -1, 0.0
        for index, line in enumerate(lines):
            last_x, last_y, last_w, last_h = line[-1].box
            # Follow the line's tilt from its last digit to this one.
            shift = slopes[index] * (centre_x - (last_x + last_w / 2))
            smaller_height = max(min(height, last_h), 1)
            overlap = (min(top + height, last_y + last_h + shift)
                       - max(top, last_y + shift)) / smaller_height
            gap_px = abs(left - (last_x + last_w))
            if overlap >= min_line_overlap and (best_index < 0 or gap_px < best_gap):
                best_index, best_gap = index, gap_px
        if best_index < 0:
            lines.append([digit])
            slopes.append(0.0)
        else:
            lines[best_index].append(digit)
            slopes[best_index] = _line_slope(lines[best_index])
    return lines


def _line_slope(line: list[Digit]) -> float:
    """Tilt (dy/dx) of the line through its first and last digit centres; 0 for one digit."""
    first, last = line[0].box, line[-1].box
    run_px = (last[0] + last[2] / 2) - (first[0] + first[2] / 2)
    if run_px <= 0:
        return 0.0
    rise_px = (last[1] + last[3] / 2) - (first[1] + first[3] / 2)
    return max(-MAX_SLOPE, min(MAX_SLOPE, rise_px / run_px))


def _line_sort_key(line: list[Digit], slope: float) -> tuple[float, int]:
    # Where the line crosses x = 0 when followed along the page's tilt, so a tilted block's lines
    # come out in the order they were written even when they differ in length.
    mean_offset_y = sum(d.box[1] + d.box[3] / 2 - slope * (d.box[0] + d.box[2] / 2)
                        for d in line) / len(line)
    return (mean_offset_y, line[0].box[0])


def _split_line(line: list[Digit], gap_ratio: float) -> list[list[Digit]]:
    runs = [[line[0]]]
    for previous, digit in pairwise(line):
        gap_px = digit.box[0] - (previous.box[0] + previous.box[2])
        run_height_px = median(d.box[3] for d in runs[-1])
        reference_px = max(previous.box[3], digit.box[3], run_height_px)
        sized = [d.box[3] for d in runs[-1] if not _is_narrow(d)]
        if sized:
            size_px = median(sized)
            change = digit.box[3] / size_px
            if change > SIZE_CHANGE_RATIO or (change < 1 / SIZE_CHANGE_RATIO
                                              and not _is_narrow(digit)):
                reference_px = min(size_px, digit.box[3])
        if gap_px > gap_ratio * reference_px:
            runs.append([digit])
        else:
            runs[-1].append(digit)
    return runs


def _is_narrow(digit: Digit) -> bool:
    return digit.box[2] < NARROW_WIDTH_PER_HEIGHT * digit.box[3]


def _make_number(run: list[Digit]) -> Number:
    return Number(text="".join(str(int(d.label)) for d in run),
                  confidence=float(min(d.confidence for d in run)),
                  box=union_box([d.box for d in run]),
                  digits=tuple(run))
