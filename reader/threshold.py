"""Ink mask: which pixels of a grayscale frame are pen or pencil strokes (dark ink on light paper).

Light across a sheet is never even (desk lamps, hand shadows, vignetting), so one global
threshold fails. We first estimate what the bare paper would look like at every pixel, cheaply
on a tiny copy of the frame, and call a pixel ink when it is clearly darker than that local
paper. "Clearly" adapts to the frame: a fixed share of how dark the darkest ink in the frame is
(so faint ruling lines drop out next to pen ink, while pencil on its own is still found), and
well above the sensor noise, measured in grey levels (the same on lit and shadowed paper). Next
to a pixel that passes, less is asked of the noise: a faint, thin pen's stroke, which noise
breaks into dashes, stays whole. And a pixel joined to such ink through pixels that pass the
noise is asked less of the darkness share, by the same ratio: a digit smeared by motion blur
keeps its strokes across the motion, several times fainter than those along it. `sensitivity`
moves both for the window's +/- keys.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

# The background is estimated on a copy whose long side is this many pixels, so the kernels
# below are a fixed share of the frame whatever the camera resolution.
BACKGROUND_LONG_SIDE_PX = 80
# Closing (max then min) with this ellipse removes dark features narrower than it: strokes up to
# ~9% of the frame's long side (a thick marker on a digit filling the frame), while keeping the
# edges of larger dark areas (shadows, the desk around the sheet) where they are.
BACKGROUND_CLOSE_PX = 7
# Statistics (noise, darkest ink) come from every 4th pixel in both directions: plenty of
# samples for a histogram at a sixteenth of the cost.
STATS_STRIDE = 4
# Darkness = 1 - gray / paper, 0 for paper, ~0.5-0.9 for pen ink, ~0.15-0.4 for pencil.
MAX_DARKNESS = 0.22          # never demand more, so pencil on a page of pen ink stays in
NOISE_SIGMAS = 5.0           # ink must stand this many noise deviations out of the paper...
WEAK_NOISE_SIGMAS = 3.0      # ...or this many where it joins such ink (a faint, thin stroke)
#                              (the darkness share asked of ink joined to ink is relaxed by the
#                              same ratio, WEAK_NOISE_SIGMAS / NOISE_SIGMAS)
INK_SHARE = 0.4              # ...and be this share as dark as the frame's darkest ink
INK_PERCENTILE = 99.7        # "darkest ink": this percentile of darkness over the frame
SENSITIVITY_GAIN = 0.5       # sensitivity +1 halves the required darkness, -1 makes it x1.5
# Ratio and difference images are stored as uint8 with paper at this value, leaving room above
# for noise.
PAPER_LEVEL = 200.0
NOISE_WINDOW = 30            # histogram bins above the paper peak that can be noise
# Ruling lines dark enough to pass the threshold run through the digits written on them and
# would glue a whole line of digits into one blob. A ruling line is found as a chain of strips
# (this many pixels long) each crossed by a thin band of ink covering most of the strip...
LINE_STRIP_PX = 32
LINE_STRIP_COVER = 0.8
LINE_MIN_SHARE = 1 / 3       # ...chained over at least this share of the frame,
LINE_SLANT_PX = 2            # each strip within this many pixels of the last (~4 degrees),
LINE_MAX_SIDE_INK = 0.4      # with little ink beside the band (per row, share of the band's)
LINE_MIN_THIN_SHARE = 0.5    # in at least this share of its strips;
LINE_MIN_COUNT = 2           # and lines come in families.
# Only the line's thin parts are erased: a stroke crossing it keeps a run of ink across the
# line at least this long (share of the frame's extent across the lines, at least 5 px).
LINE_CROSS_RUN_SHARE = 1 / 80


class InkThresholder:
    """Reusable ink thresholder: holds the kernels so each frame only does pixel work."""

    def __init__(self) -> None:
        self._background_kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (BACKGROUND_CLOSE_PX, BACKGROUND_CLOSE_PX))
        # A 3x3 cross bridges one-pixel breaks in a stroke without gluing diagonal neighbours.
        self._close_kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
        self._neighbours = np.ones((3, 3), np.uint8)  # a pixel's 8 neighbours and itself
        self._darkness_levels = 1.0 - np.arange(256, dtype=np.float64) / PAPER_LEVEL
        self._squared_offsets = np.arange(1, 257, dtype=np.float32) ** 2

    def paper_background(self, gray: np.ndarray) -> np.ndarray:
        """Estimated bare-paper brightness on a small grid (uint8, long side ~80 px)."""
        height, width = gray.shape
        scale = BACKGROUND_LONG_SIDE_PX / max(height, width)
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # INTER_LINEAR only reads 2x2 pixels per output: far cheaper than INTER_AREA, and the
        # closing and blur below average the samples anyway.
        small = cv2.resize(gray, small_size, interpolation=cv2.INTER_LINEAR)
        closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, self._background_kernel,
                                  borderType=cv2.BORDER_REPLICATE)
        smooth = cv2.GaussianBlur(closed, (5, 5), 0, borderType=cv2.BORDER_REPLICATE)
        # At a shadow's edge the blur brightens the dark side, which would read as ink; the
        # minimum keeps the unblurred (correct) dark value there.
        return cv2.min(closed, smooth)

    def ink_limits(self, gray_smooth: np.ndarray, background: np.ndarray,
                   sensitivity: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The grey level ink is darker than, on the background's small grid: (strong, weak,
        joined).

        Ink must be INK_SHARE as dark as the frame's darkest ink (relative to the paper) and
        stand NOISE_SIGMAS noise deviations (in grey levels) below the paper. The noise is
        additive sensor noise, the same number of grey levels on bright and shadowed paper, so
        in a shadow it is a larger share of the paper. The weak limit only asks
        WEAK_NOISE_SIGMAS: a pixel passing it is kept where it touches strong ink (one step of
        hysteresis), which mends a faint, thin stroke the noise breaks into dashes, while the
        noise alone, far from ink, still has to pass NOISE_SIGMAS. The joined limit asks the
        full noise margin but only WEAK_NOISE_SIGMAS / NOISE_SIGMAS of the darkness share: a
        pixel passing it is kept where it is joined to strong ink through such pixels (however
        far), which keeps the faint cross-motion strokes of a blurred digit.
        """
        height, width = gray_smooth.shape
        samples_size = (max(1, width // STATS_STRIDE), max(1, height // STATS_STRIDE))
        samples = cv2.resize(gray_smooth, samples_size, interpolation=cv2.INTER_NEAREST)
        paper = cv2.resize(background, samples_size, interpolation=cv2.INTER_LINEAR)
        ratio = cv2.divide(samples, paper, scale=PAPER_LEVEL)
        counts = cv2.calcHist([ratio], [0], None, [256], [0, 256]).ravel()
        paper_bin = int(np.argmax(counts))
        paper_darkness = self._darkness_levels[paper_bin]
        dark_count = (1.0 - INK_PERCENTILE / 100.0) * ratio.size
        ink_bin = min(int(np.searchsorted(np.cumsum(counts), dark_count)), 255)
        ink_darkness = self._darkness_levels[ink_bin] - paper_darkness
        # Paper is the peak of the samples' difference from their paper; only noise makes a
        # pixel brighter than its paper, so the bright side of the peak measures the noise
        # without being fooled by ink.
        offsets = cv2.addWeighted(samples, 1.0, paper, -1.0, PAPER_LEVEL)
        counts = cv2.calcHist([offsets], [0], None, [256], [0, 256]).ravel()
        paper_offset = int(np.argmax(counts))
        # Brighter than paper + NOISE_WINDOW is glare or a shadow's edge, not noise.
        bright = counts[paper_offset + 1:paper_offset + 1 + NOISE_WINDOW]
        noise_levels = np.sqrt(np.dot(bright, self._squared_offsets[:bright.size])
                               / max(float(bright.sum()), 1.0))
        gain = 1.0 - SENSITIVITY_GAIN * min(max(float(sensitivity), -1.0), 1.0)
        share = min(INK_SHARE * ink_darkness, MAX_DARKNESS) * gain
        # Relative to the paper the histogram sees rather than to the estimate, which sits
        # slightly high where the closing picked up bright noise. (uint8 arithmetic saturates,
        # so no limit goes below 0.)
        paper_seen = cv2.convertScaleAbs(background, alpha=1.0 - paper_darkness)
        relaxed = WEAK_NOISE_SIGMAS / NOISE_SIGMAS
        contrast_limit, joined_contrast_limit = (
            cv2.convertScaleAbs(background, alpha=(1.0 - paper_darkness) * (1.0 - share * k))
            for k in (1.0, relaxed))
        # Between grid points the paper is interpolated, which is exact where light changes
        # smoothly but not next to a sharp step (the sheet's edge on a dark desk, wood grain):
        # ink must also stand out of the paper by the most its grid neighbourhood departs from
        # its local mean.
        mean = cv2.blur(background, (3, 3), borderType=cv2.BORDER_REPLICATE)
        unsure = cv2.dilate(cv2.absdiff(background, mean), self._neighbours,
                            borderType=cv2.BORDER_REPLICATE)
        sure_paper = cv2.subtract(paper_seen, unsure)
        # The weak and joined limits are never below the strong one: strong ink is both too
        # (the hysteresis below relies on it).
        strong, weak = (cv2.subtract(sure_paper, (float(sigmas * gain * noise_levels),))
                        for sigmas in (NOISE_SIGMAS, WEAK_NOISE_SIGMAS))
        return (cv2.min(contrast_limit, strong), cv2.min(contrast_limit, weak),
                cv2.min(joined_contrast_limit, strong))

    def __call__(self, gray: np.ndarray, sensitivity: float = 0.0) -> np.ndarray:
        """Ink mask of `gray` (uint8 0/255, same shape, 255 = ink)."""
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"ink_mask wants a 2-D uint8 grayscale image, got {gray.dtype}"
                             f" {gray.shape}")
        height, width = gray.shape
        background = self.paper_background(gray)
        # A light blur cuts sensor noise ~2.5x; ink strokes are wider than its 3 px.
        gray_smooth = cv2.GaussianBlur(gray, (3, 3), 0)
        limits_small = self.ink_limits(gray_smooth, background, sensitivity)
        # The limits are set on the small grid and upscaled once: the full-resolution work is
        # a uint8 resize and a compare per limit and a few morphology steps; the labelling
        # runs only in a frame with smeared strokes.
        strong_limit = cv2.resize(limits_small[0], (width, height),
                                  interpolation=cv2.INTER_LINEAR)
        mask = cv2.compare(gray_smooth, strong_limit, cv2.CMP_LT)
        if not cv2.countNonZero(mask):
            return mask
        weak, joined = (cv2.compare(gray_smooth, cv2.resize(limit, (width, height),
                                                            interpolation=cv2.INTER_LINEAR),
                                    cv2.CMP_LT)
                        for limit in limits_small[1:])
        # Weak ink is kept one pixel deep around the strong; joined ink where, joined to
        # strong ink, it reaches further than that (a smeared digit's cross strokes), not as
        # the one-pixel rim the smoothing leaves around every stroke.
        near = cv2.dilate(mask, self._neighbours)
        far = cv2.subtract(joined, near)
        strong = mask
        mask = cv2.bitwise_and(near, weak)
        # Such ink fills a 3x3 square beyond the rim somewhere in a frame with smeared
        # strokes; in a sharp frame it is at most the strokes' soft edges, thinner than that,
        # and the labelling is skipped.
        if cv2.countNonZero(cv2.erode(far, self._neighbours)):
            # Nor ruling lines: they are erased from the joined mask, where a faint line comes
            # through whole (the strong limit breaks it into dashes the erasure cannot tell
            # from strokes), so that no piece of a line joins a digit written on it.
            joined = erase_ruling_lines(erase_ruling_lines(joined, True), horizontal=False)
            far = cv2.subtract(joined, near)
            if cv2.countNonZero(far):
                mask = cv2.bitwise_or(mask, _reaching(cv2.subtract(joined, strong), near, far))
        mask = erase_ruling_lines(mask, horizontal=True)
        mask = erase_ruling_lines(mask, horizontal=False)
        return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close_kernel)


def erase_ruling_lines(mask: np.ndarray, horizontal: bool = True) -> np.ndarray:
    """`mask` without long thin ruling lines (horizontal or vertical); strokes crossing stay.

    Returns `mask` itself (no copy) when there is no line, which is the usual case.
    """
    # Work in a layout where the lines run along axis 1, so both directions share the code.
    along = mask if horizontal else cv2.transpose(mask)
    across, length = along.shape
    strip = LINE_STRIP_PX
    n_strips = length // strip
    if n_strips < 3:
        return mask
    # Ink per (position across, strip): a line crossing a strip fills ~`strip` pixels of it.
    # Summing runs of `strip` contiguous pixels is one cv2.reduce on a reshaped view.
    strips = np.ascontiguousarray(along[:, :n_strips * strip]).reshape(-1, strip)
    counts = cv2.reduce(strips, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
    counts = counts.reshape(across, n_strips).astype(np.float32)
    # Sum over 3 neighbouring positions, so a line slanting within a strip still counts.
    band = cv2.boxFilter(counts, -1, (1, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    crossed = (band >= 255.0 * LINE_STRIP_COVER * strip).astype(np.uint8)
    # Cheap exit for the usual frame: no run of consecutive crossed strips long enough.
    min_strips = max(3, int(np.ceil(LINE_MIN_SHARE * n_strips)))
    strip_crossed = np.concatenate(([0], crossed.any(axis=0).astype(np.int8), [0]))
    run_edges = np.flatnonzero(np.diff(strip_crossed))
    if run_edges.size == 0 or np.max(run_edges[1::2] - run_edges[::2]) < min_strips:
        return mask
    # Chain crossed cells of consecutive strips into lines, allowing a few positions of slant
    # per strip. A line is crossed in every strip, digits written on it or not; the tops of a
    # row of digits are not.
    chained = cv2.dilate(crossed, np.ones((2 * LINE_SLANT_PX + 1, 1), np.uint8))
    n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(chained, connectivity=8,
                                                                  ltype=cv2.CV_16U)
    # A line is thin: the 8 positions around its band hold little ink, where a row of dense
    # writing is just as full. Digits written on the line spoil some cells, not most.
    wide = cv2.boxFilter(counts, -1, (1, 11), normalize=False, borderType=cv2.BORDER_CONSTANT)
    thin = (wide - band) / 8.0 <= LINE_MAX_SIDE_INK * band / 3.0
    # Count strips, not cells: a line's band is a few cells wide and only the middle is thin.
    rows, cols = np.nonzero(crossed)
    cell_strips = labels[rows, cols] * n_strips + cols
    strips_crossed = np.bincount(np.unique(cell_strips) // n_strips, minlength=n_labels)
    thin_strips = np.unique(cell_strips[thin[rows, cols]]) // n_strips
    strips_thin = np.bincount(thin_strips, minlength=n_labels)
    is_line = ((stats[:, cv2.CC_STAT_WIDTH] >= min_strips)
               & (strips_thin >= LINE_MIN_THIN_SHARE * strips_crossed))
    is_line[0] = False
    # Ruled or squared paper shows several parallel lines; a single long straight stroke is
    # more likely part of a big digit (the stem of a 9 or a 1 written across the frame).
    if np.count_nonzero(is_line) < LINE_MIN_COUNT:
        return mask
    zone = is_line[labels].astype(np.uint8)
    repeats = np.full(n_strips, strip)
    repeats[-1] += length - n_strips * strip
    zone = np.repeat(zone * np.uint8(255), repeats, axis=1)
    if not horizontal:
        zone = cv2.transpose(zone)
    # Pixels in a long enough run across the line belong to a stroke crossing it.
    run_px = max(5, round(LINE_CROSS_RUN_SHARE * across))
    run_kernel = np.ones((run_px, 1) if horizontal else (1, run_px), np.uint8)
    crossing = cv2.morphologyEx(mask, cv2.MORPH_OPEN, run_kernel)
    return cv2.subtract(mask, cv2.subtract(zone, crossing))


def _reaching(regions: np.ndarray, near: np.ndarray, far: np.ndarray) -> np.ndarray:
    """The 8-connected blobs of `regions` that hold pixels of both `near` and `far`."""
    # Labelled within the box of the regions only; 16-bit labels as in contours.py, 32 only
    # for a frame of more than 65535 blobs.
    x, y, w, h = cv2.boundingRect(regions)
    crop = regions[y:y + h, x:x + w]
    try:
        count, labels = cv2.connectedComponents(crop, connectivity=8, ltype=cv2.CV_16U)
    except cv2.error:
        count, labels = cv2.connectedComponents(crop, connectivity=8, ltype=cv2.CV_32S)
    has_near, has_far = np.zeros(count, bool), np.zeros(count, bool)
    has_near[labels[near[y:y + h, x:x + w] > 0]] = True
    has_far[labels[far[y:y + h, x:x + w] > 0]] = True
    keep = (has_near & has_far).astype(np.uint8) * np.uint8(255)
    keep[0] = 0
    reaching = np.zeros_like(regions)
    reaching[y:y + h, x:x + w] = keep.take(labels)
    return reaching


@functools.lru_cache(maxsize=1)
def _default_thresholder() -> InkThresholder:
    return InkThresholder()


def ink_mask(gray: np.ndarray, sensitivity: float = 0.0) -> np.ndarray:
    """Binary ink mask of a grayscale frame: uint8, 255 where dark ink is, 0 for paper.

    `sensitivity` in [-1, 1]: positive finds fainter ink (pencil), negative only strong ink.
    """
    return _default_thresholder()(gray, sensitivity)
