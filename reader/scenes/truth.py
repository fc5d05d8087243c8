"""Ground truth: each digit's ink followed through the camera, as the scene truth JSON.

A digit's truth box is the bounding box of its own ink pixels after the page-to-frame
homography, not a warped rectangle, so it hugs the stroke however the page is turned. Ink
is where the glyph's coverage exceeds INK_ALPHA; the faint anti-aliased fringe below that is
not counted. Blur (focus, motion) is applied after geometry and is not in the boxes.

The JSON beside each scene (boxes are integer [x, y, w, h] pixels of the written image):
    still: {"kind": "image", "width": W, "height": H, "tags": ["desk"],
            "numbers": [{"text": "307", "box": [x, y, w, h],
                         "digits": [{"label": 3, "box": [x, y, w, h]}, ...]}, ...]}
    video: {"kind": "video", "width": W, "height": H, "fps": 30, "tags": ["plain"],
            "frames": [{"numbers": [...as above...]}, ...one per frame...]}
"tags" names the scene's family (reader/scenes/clutter.py). A number's text is its digits'
labels left to right and its box the union of theirs. Numbers are listed in the order they were written (a block's lines top to bottom, each left to right;
a video page holds several blocks), so match them by box, not by list position.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from reader.scenes.glyphs import INK_ALPHA
from reader.scenes.layout import PlacedNumber

# A digit this close to the frame edge counts as cut: a reader cannot tell it is whole.
BORDER_PX = 2


class InkTracker:
    """Follows every digit's ink through page-to-frame homographies.

    A digit's box comes from warping its own coverage mask exactly as the page is warped
    (bilinear) and taking the pixels above INK_ALPHA. The masks' convex hulls, mapped for all
    digits at once, say roughly where each lands, so only a small patch per digit is warped.
    """

    def __init__(self, numbers: list[PlacedNumber]) -> None:
        self.numbers = numbers
        self.digits = [d for n in numbers for d in n.digits]
        self.labels = [d.label for d in self.digits]
        self.number_of_digit = np.repeat(np.arange(len(numbers)),
                                         [len(n.digits) for n in numbers])
        hulls = [_ink_hull(d.alpha, d.x, d.y) for d in self.digits]
        self.points_xy = np.concatenate(hulls) if hulls else np.zeros((0, 2))
        self.starts = np.cumsum([0] + [len(h) for h in hulls[:-1]])

    def rough_boxes_xyxy(self, page_to_frame: np.ndarray) -> np.ndarray:
        """(D, 4) boxes x0, y0, x1, y1 (inclusive) of the digits' hulls, within a pixel or so."""
        if len(self.points_xy) == 0:
            return np.zeros((0, 4), np.int64)
        mapped = self.points_xy @ page_to_frame[:, :2].T + page_to_frame[:, 2]
        xy = mapped[:, :2] / mapped[:, 2:3]
        lo = np.minimum.reduceat(xy, self.starts)
        hi = np.maximum.reduceat(xy, self.starts)
        return np.concatenate([np.floor(lo), np.ceil(hi)], axis=1).astype(np.int64)

    def digit_boxes_xyxy(self, page_to_frame: np.ndarray,
                         frame_size: tuple[int, int] | None = None) -> np.ndarray:
        """(D, 4) int boxes x0, y0, x1, y1 (inclusive) of each digit's ink in the frame.

        Boxes may extend past the frame (a cut digit's whole ink). With `frame_size`, digits
        wholly outside the frame keep their rough box (they are not in the image at all).
        """
        boxes = self.rough_boxes_xyxy(page_to_frame)
        for i, digit in enumerate(self.digits):
            x0, y0, x1, y1 = boxes[i]
            if frame_size is not None and (x1 < 0 or y1 < 0 or x0 >= frame_size[0]
                                           or y0 >= frame_size[1]):
                continue
            x0, y0 = x0 - 2, y0 - 2
            to_patch = (np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
                        @ page_to_frame
                        @ np.array([[1, 0, digit.x], [0, 1, digit.y], [0, 0, 1]], np.float64))
            patch = cv2.warpPerspective(digit.alpha, to_patch, (int(x1 + 3 - x0), int(y1 + 3 - y0)),
                                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            rows = np.flatnonzero((patch > INK_ALPHA).any(axis=1))
            cols = np.flatnonzero((patch > INK_ALPHA).any(axis=0))
            if rows.size:
                boxes[i] = (x0 + cols[0], y0 + rows[0], x0 + cols[-1], y0 + rows[-1])
        return boxes

    def frame_truth(self, page_to_frame: np.ndarray, frame_size: tuple[int, int],
                    border_px: int = BORDER_PX) -> dict:
        """One video frame's truth: `numbers` whose every digit lies wholly inside the frame,
        and `cut_numbers`, the visible part of the others.

        A number with any digit cut by the frame edge (or within `border_px` of it) is not to be
        read: reading what is visible of it ("07" of "307") would be a wrong number. Its visible
        box is kept so an evaluator does not count its whole digits as spurious.
        """
        width, height = frame_size
        boxes = self.digit_boxes_xyxy(page_to_frame, frame_size)
        inside = ((boxes[:, 0] >= border_px) & (boxes[:, 1] >= border_px)
                  & (boxes[:, 2] <= width - 1 - border_px)
                  & (boxes[:, 3] <= height - 1 - border_px))
        visible = ((boxes[:, 2] >= 0) & (boxes[:, 3] >= 0)
                   & (boxes[:, 0] < width) & (boxes[:, 1] < height))
        numbers, cut_numbers = [], []
        for k in range(len(self.numbers)):
            mine = np.flatnonzero(self.number_of_digit == k)
            if inside[mine].all():
                numbers.append(number_entry([self.labels[i] for i in mine], boxes[mine]))
            elif visible[mine].any():
                shown = boxes[mine][visible[mine]]
                union = (max(0, shown[:, 0].min()), max(0, shown[:, 1].min()),
                         min(width - 1, shown[:, 2].max()), min(height - 1, shown[:, 3].max()))
                cut_numbers.append({"box": xyxy_to_xywh(union)})
        return {"numbers": numbers, "cut_numbers": cut_numbers}

    def frame_numbers(self, page_to_frame: np.ndarray, frame_size: tuple[int, int],
                      border_px: int = BORDER_PX) -> list[dict]:
        """Truth entries for numbers whose every digit lies wholly inside the frame."""
        return self.frame_truth(page_to_frame, frame_size, border_px)["numbers"]


def number_entry(labels: list[int], boxes_xyxy: np.ndarray) -> dict:
    """One number's truth: its text, union box and per-digit boxes as [x, y, w, h]."""
    union = (boxes_xyxy[:, 0].min(), boxes_xyxy[:, 1].min(),
             boxes_xyxy[:, 2].max(), boxes_xyxy[:, 3].max())
    return {"text": "".join(str(label) for label in labels),
            "box": xyxy_to_xywh(union),
            "digits": [{"label": int(label), "box": xyxy_to_xywh(box)}
                       for label, box in zip(labels, boxes_xyxy)]}


def xyxy_to_xywh(box: tuple[int, int, int, int] | np.ndarray) -> list[int]:
    """Inclusive x0, y0, x1, y1 -> [x, y, w, h] as plain ints."""
    x0, y0, x1, y1 = (int(v) for v in box)
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def boxes_overlap(boxes_xyxy: np.ndarray, margin_px: int = 1,
                  groups: np.ndarray | None = None) -> bool:
    """True if any two inclusive boxes come within `margin_px` of each other.

    With `groups` (one id per box), boxes of the same group may overlap.
    """
    b = boxes_xyxy.astype(np.int64)
    x_apart = (b[:, None, 0] > b[None, :, 2] + margin_px) | (b[None, :, 0] > b[:, None, 2] + margin_px)
    y_apart = (b[:, None, 1] > b[None, :, 3] + margin_px) | (b[None, :, 1] > b[:, None, 3] + margin_px)
    close = ~(x_apart | y_apart)
    np.fill_diagonal(close, False)
    if groups is not None:
        close &= groups[:, None] != groups[None, :]
    return bool(close.any())


def _ink_hull(alpha: np.ndarray, x: int, y: int) -> np.ndarray:
    """Convex hull (K, 2) float64 of the glyph's visible pixels' squares, in page coordinates.

    The hull suffices for a rough box: a homography maps the hull of a shape to the hull of
    its image, so the extreme points of the warped glyph are warped hull points.
    """
    ys, xs = np.nonzero(alpha > 0)
    centres = cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.float32)).reshape(-1, 2)
    corners = (centres[:, None, :] + np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]],
                                              np.float32)).reshape(-1, 2)
    return corners.astype(np.float64) + np.array([x, y], np.float64)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and a rename, so no half-written file exists."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write `obj` as JSON to `path` atomically (temporary file, then rename)."""
    write_bytes_atomic(path, (json.dumps(obj, separators=(",", ":")) + "\n").encode())
