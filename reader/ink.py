"""What the stages agree an ink mask is, and how wide its strokes are.

A mask is uint8, 255 where ink is and 0 for paper. A stage given a mask binarises it first
(`binary_mask`): a grey fringe (an anti-aliased drawing, a resized or blurred mask) would
otherwise count as ink, and every grey step as an edge.
"""

from __future__ import annotations

import cv2
import numpy as np

INK_LEVEL = 127  # of 255: brighter is ink, as in the middle of an anti-aliased edge


def binary_mask(mask: np.ndarray, who: str) -> np.ndarray:
    """`mask` (2-D uint8) as 0/255, pixels above INK_LEVEL ink; a clear error for anything
    that is not a 2-D uint8 image. Costs one pass over the frame (~0.03 ms at 640x480)."""
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"{who} wants a 2-D uint8 mask, got {mask.dtype} {mask.shape}")
    return cv2.threshold(mask, INK_LEVEL, 255, cv2.THRESH_BINARY)[1]


def stroke_width_px(ink: np.ndarray, ink_mass: float | None = None) -> float:
    """Mean stroke width of white-on-black ink (uint8 or float, binary or grey), in its pixels.

    A stroke of length L and width W holds ink L*W and has an outline ~2L long, so the width
    is 2 * ink / outline; holes count too, as both sides of a loop are edges. The outline is
    the Euclidean length of the contours of the ink above half its peak (slanted strokes are
    measured as well as upright ones); the ink is the image's sum in units of its peak, or
    `ink_mass` when the caller knows it better (a digit whose grey edges were resampled).
    Blank input gives 0.
    """
    if ink.size == 0:
        return 0.0
    peak = float(ink.max())
    if peak <= 0:
        return 0.0
    if ink.dtype != np.uint8 or peak != 255:
        # convertScaleAbs would turn negative values (brighter than paper) into ink.
        positive = np.maximum(np.asarray(ink, dtype=np.float32), 0.0)
        ink = cv2.convertScaleAbs(positive, alpha=255.0 / peak)
    binary = cv2.threshold(ink, INK_LEVEL, 1, cv2.THRESH_BINARY)[1]
    contours = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
    outline = sum(cv2.arcLength(c, True) for c in contours)
    if outline <= 0:
        return 0.0
    mass = cv2.sumElems(ink)[0] / 255.0 if ink_mass is None else ink_mass
    return 2.0 * mass / outline
