"""Follow digits across video frames so the overlay neither flickers nor jumps.

Each track keeps an exponential moving average of its digit's class probabilities and, more
lightly, of its box. Detections are matched to tracks by the Hungarian algorithm
(`scipy.optimize.linear_sum_assignment`): the pairing with the most matches, then the smallest
total centre distance, among pairs whose centres moved at most `max_jump` of the box's size.
That survives camera shake of 10-20% of a box, and a sudden pan that brings one digit nearer to
its neighbour's track than to its own does not swap their labels, as nearest-first (greedy)
matching would.

When a track is shown: a new track appears at once if its first detection is confident
(>= `show_confident`), so clear digits have no lag; an unsure one waits for `min_hits` detections,
so a one-frame speck does not flash. Once shown, a track stays on screen through up to
`max_missed` frames without a detection, so one missed frame does not make a digit blink,
unless a fresh track overlaps it (the digit jumped too far to match and is shown there instead).

The tracker works on arrays: `track(boxes_xywh, probs)` takes and returns them, so the pipeline
builds its `Digit`s once, after tracking. `update(digits)` does the same for a list of `Digit`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from reader.detections import Digit

NUM_CLASSES = 10
GHOST_IOU = 0.1  # a missed track overlapping a fresh one this much is the same digit


class Tracked(NamedTuple):
    """The shown tracks of one frame: (M, 4) int64 boxes x, y, w, h and (M, 10) float32 probs."""

    boxes_xywh: np.ndarray
    probs: np.ndarray


class DigitTracker:
    """Match each frame's digits to tracks and return them with smoothed labels and boxes."""

    def __init__(self, max_missed: int = 5, smoothing: float = 0.6, box_smoothing: float = 0.3,
                 max_jump: float = 0.5, min_hits: int = 2, show_confident: float = 0.9) -> None:
        """Set how long tracks live and how strongly they smooth.

        `smoothing` and `box_smoothing` are the weight kept from the past on each update
        (0 = no smoothing). `max_jump` is the largest centre move between frames, as a fraction
        of the box's larger side, that still counts as the same digit.
        """
        if not 0.0 <= smoothing < 1.0 or not 0.0 <= box_smoothing < 1.0:
            raise ValueError("smoothing and box_smoothing must be in [0, 1)")
        # Imported here, not with the module: scipy.optimize takes about a second to import on
        # a busy 2-core machine, and only readers that track (video, camera) need it.
        from scipy.optimize import linear_sum_assignment
        self._assign = linear_sum_assignment
        self.max_missed = max_missed
        self.smoothing = smoothing
        self.box_smoothing = box_smoothing
        self.max_jump = max_jump
        self.min_hits = min_hits
        self.show_confident = show_confident
        self.reset()

    def reset(self) -> None:
        """Forget every track (call when the source changes)."""
        # One row per track, kept as arrays so each update is a few vectorized operations.
        self._boxes = np.empty((0, 4), np.float64)        # x, y, w, h (smoothed)
        self._probs = np.empty((0, NUM_CLASSES), np.float64)
        self._hits = np.empty(0, np.int64)
        self._missed = np.empty(0, np.int64)
        self._shown = np.empty(0, bool)

    def __len__(self) -> int:
        """How many tracks are alive, shown or not."""
        return len(self._hits)

    def update(self, digits: Sequence[Digit]) -> list[Digit]:
        """Fold one frame's detections into the tracks; return the digits to show this frame."""
        boxes_xywh = np.array([d.box for d in digits], np.float64).reshape(-1, 4)
        shown = self.track(boxes_xywh, _probs_of(digits))
        labels = shown.probs.argmax(axis=1).tolist()
        confidences = shown.probs.max(axis=1).tolist()
        return [Digit(label=label, confidence=confidence, box=tuple(box), probs=row_probs)
                for label, confidence, box, row_probs
                in zip(labels, confidences, shown.boxes_xywh.tolist(), shown.probs)]

    def track(self, boxes_xywh: np.ndarray, probs: np.ndarray) -> Tracked:
        """Fold one frame's detections, (N, 4) boxes and (N, 10) class probabilities, into the
        tracks; return the tracks to show this frame, smoothed."""
        det_boxes = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
        det_probs = np.asarray(probs, np.float64).reshape(-1, NUM_CLASSES)
        track_idx, det_idx = self._match(det_boxes)

        keep = self.smoothing
        self._probs[track_idx] = keep * self._probs[track_idx] + (1 - keep) * det_probs[det_idx]
        keep_box = self.box_smoothing
        self._boxes[track_idx] = (keep_box * self._boxes[track_idx]
                                  + (1 - keep_box) * det_boxes[det_idx])
        self._hits[track_idx] += 1
        self._missed += 1
        self._missed[track_idx] = 0

        new = np.ones(len(det_boxes), bool)
        new[det_idx] = False
        self._append(det_boxes[new], det_probs[new])

        self._shown |= self._hits >= self.min_hits
        # An unshown track that misses a frame was most likely noise: drop it at once.
        alive = (self._missed <= self.max_missed) & (self._shown | (self._missed == 0))
        alive &= ~self._replaced()
        self._keep_rows(alive)
        rows = np.flatnonzero(self._shown)
        # Fresh arrays: what is returned never changes under the caller.
        return Tracked(np.rint(self._boxes[rows]).astype(np.int64),
                       self._probs[rows].astype(np.float32))

    def _replaced(self) -> np.ndarray:
        """Missed tracks that overlap a track shown and seen this frame: the digit jumped too far
        to match and now has a new track, so the old one would only trail behind as a ghost box.
        (An unshown new track replaces nothing, so a speck cannot make a real digit blink.)"""
        replaced = np.zeros(len(self._missed), bool)
        missed = np.flatnonzero(self._missed > 0)
        seen = np.flatnonzero((self._missed == 0) & self._shown)
        if len(missed) and len(seen):
            overlaps = _iou(self._boxes[missed], self._boxes[seen]) > GHOST_IOU
            replaced[missed] = overlaps.any(axis=1)
        return replaced

    def _match(self, det_boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Optimal pairs (track rows, detection rows) whose centres moved at most `max_jump`."""
        if len(self._boxes) == 0 or len(det_boxes) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        track_centres = self._boxes[:, :2] + self._boxes[:, 2:] / 2
        det_centres = det_boxes[:, :2] + det_boxes[:, 2:] / 2
        distances = np.linalg.norm(track_centres[:, None, :] - det_centres[None, :, :], axis=2)
        # Relative to the larger of the two sizes, so a box that grows or shrinks still matches.
        track_sizes = self._boxes[:, 2:].max(axis=1)
        det_sizes = det_boxes[:, 2:].max(axis=1)
        sizes = np.maximum(np.maximum(track_sizes[:, None], det_sizes[None, :]), 1.0)
        costs = distances / sizes
        allowed = costs <= self.max_jump
        # Tracks and detections without any allowed partner (new digits, specks, lost tracks)
        # are left out, which keeps the assignment small.
        rows = np.flatnonzero(allowed.any(axis=1))
        cols = np.flatnonzero(allowed.any(axis=0))
        if len(rows) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # A forbidden pair costs more than any set of allowed pairs together, so the assignment
        # first makes as many allowed pairs as it can, then the closest ones.
        forbidden_cost = self.max_jump * min(len(rows), len(cols)) + 1.0
        sub_costs = np.where(allowed, costs, forbidden_cost)[np.ix_(rows, cols)]
        pick_rows, pick_cols = self._assign(sub_costs)
        track_idx, det_idx = rows[pick_rows], cols[pick_cols]
        ok = allowed[track_idx, det_idx]
        return track_idx[ok], det_idx[ok]

    def _append(self, boxes: np.ndarray, probs: np.ndarray) -> None:
        count = len(boxes)
        self._boxes = np.concatenate([self._boxes, boxes])
        self._probs = np.concatenate([self._probs, probs])
        self._hits = np.concatenate([self._hits, np.ones(count, np.int64)])
        self._missed = np.concatenate([self._missed, np.zeros(count, np.int64)])
        self._shown = np.concatenate([self._shown, probs.max(axis=1) >= self.show_confident])

    def _keep_rows(self, rows: np.ndarray) -> None:
        self._boxes = self._boxes[rows]
        self._probs = self._probs[rows]
        self._hits = self._hits[rows]
        self._missed = self._missed[rows]
        self._shown = self._shown[rows]


def _iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of (x, y, w, h) boxes."""
    a_right, b_right = boxes_a[:, 0] + boxes_a[:, 2], boxes_b[:, 0] + boxes_b[:, 2]
    a_bottom, b_bottom = boxes_a[:, 1] + boxes_a[:, 3], boxes_b[:, 1] + boxes_b[:, 3]
    left = np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    top = np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    right = np.minimum(a_right[:, None], b_right[None, :])
    bottom = np.minimum(a_bottom[:, None], b_bottom[None, :])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    areas_a = boxes_a[:, 2] * boxes_a[:, 3]
    areas_b = boxes_b[:, 2] * boxes_b[:, 3]
    return inter / np.maximum(areas_a[:, None] + areas_b[None, :] - inter, 1e-9)


def _probs_of(digits: Sequence[Digit]) -> np.ndarray:
    """(N, 10) class probabilities; a digit without `probs` spreads its doubt evenly."""
    if all(d.probs is not None for d in digits):
        return np.array([d.probs for d in digits], np.float64).reshape(-1, NUM_CLASSES)
    probs = np.empty((len(digits), NUM_CLASSES), np.float64)
    for row, digit in enumerate(digits):
        if digit.probs is not None:
            probs[row] = np.asarray(digit.probs, np.float64).reshape(NUM_CLASSES)
        else:
            probs[row] = (1.0 - digit.confidence) / (NUM_CLASSES - 1)
            probs[row, digit.label] = digit.confidence
    return probs
