"""One frame in, digits and numbers out: the stages wired together.

threshold -> contours -> patches -> classify (one call for all digits, with the cuts and merges
segmentation by recognition weighs; see segment.py) -> tracking -> numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from reader.classify import DigitClassifier
from reader.contours import find_digit_boxes
from reader.detections import Digit, FrameResult
from reader.frames import to_bgr8
from reader.numbers import group_numbers
from reader.patches import make_patches
from reader.segment import MAX_BLOB_WIDTH_PER_HEIGHT, NOT_A_DIGIT, digit_probabilities, read_boxes
from reader.threshold import ink_mask
from reader.tracking import DigitTracker

DEFAULT_MIN_CONFIDENCE = 0.5
# A page holds up to ~50 digits; more candidates than this are specks, and each costs a patch
# and a classification (64 is also one of the classifier's batch sizes).
DEFAULT_MAX_CANDIDATES = 64
# Larger frames (12 MP phone photos) are read at this size: digits stay far above the 10 px
# the contour stage needs, and thresholding costs milliseconds instead of ~100 ms.
MAX_WORK_SIDE_PX = 1280


class Reader:
    """Reads the handwritten digits of frames; keeps tracks across frames when `track` is on."""

    def __init__(self, model_path: str | Path | None = None,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, sensitivity: float = 0.0,
                 track: bool = False, max_candidates: int = DEFAULT_MAX_CANDIDATES):
        self.classifier = DigitClassifier(model_path)
        self.min_confidence = min_confidence
        self.sensitivity = sensitivity
        self.max_candidates = max_candidates
        self.tracker = DigitTracker() if track else None

    def reset(self) -> None:
        """Forget tracked digits (call when the scene changes, e.g. the next photo)."""
        if self.tracker is not None:
            self.tracker.reset()

    def read(self, frame: np.ndarray) -> FrameResult:
        """Find, read and group the digits of one frame (BGR, BGRA, gray, 8 or 16 bit)."""
        clock = StageClock()
        gray = frame if frame.ndim == 2 and frame.dtype == np.uint8 else \
            cv2.cvtColor(to_bgr8(frame), cv2.COLOR_BGR2GRAY)
        scale = MAX_WORK_SIDE_PX / max(gray.shape[:2])
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        clock.lap("gray")
        mask = ink_mask(gray, self.sensitivity)
        clock.lap("threshold")
        boxes_xywh, patches, probs = self._read_boxes(gray, mask, clock)
        clock.lap("segment")
        labels = probs.argmax(axis=1)
        is_digit, probs = digit_probabilities(probs)  # drops what the network calls not-a-digit
        frame_boxes = _to_frame_pixels(boxes_xywh[is_digit], scale, frame.shape[:2])
        probs = probs[is_digit]
        if self.tracker is not None:
            # The tracker sees every candidate: smoothing can lift a digit over the threshold.
            frame_boxes, probs = self.tracker.track(frame_boxes, probs)
        confidences = probs.max(axis=1)
        shown = confidences >= self.min_confidence
        shown_probs = probs[shown]
        # Digits are built once, for what is shown; everything before works on arrays.
        digits = [Digit(label, conf, tuple(box), row) for label, conf, box, row
                  in zip(shown_probs.argmax(axis=1).tolist(), confidences[shown].tolist(),
                         frame_boxes[shown].tolist(), shown_probs)]
        clock.lap("tracking")
        numbers = group_numbers(digits)
        clock.lap("numbers")
        return FrameResult(digits, numbers, clock.total_ms(), mask=mask, patches=patches,
                           patch_labels=labels, stage_ms=clock.ms)

    def _read_boxes(self, gray: np.ndarray, mask: np.ndarray, clock: StageClock
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate boxes, their patches and class probabilities (laps contours, patches and
        classify on `clock`).

        With a model that knows "not a digit", touching digits and broken pieces are cut and
        merged by recognition (segment.py); a 10-class model reads the contour boxes as they
        are (it would take the halves of a cut digit for 1s).
        """
        if self.classifier.num_classes > NOT_A_DIGIT:
            boxes, pieces = find_digit_boxes(mask, self.max_candidates,
                                             MAX_BLOB_WIDTH_PER_HEIGHT, with_pieces=True)
            clock.lap("contours")
            return read_boxes(gray, mask, boxes, self.classifier, pieces, clock)
        boxes = find_digit_boxes(mask, self.max_candidates)
        clock.lap("contours")
        patches = make_patches(gray, mask, boxes)
        clock.lap("patches")
        probs = self.classifier.predict(patches)
        clock.lap("classify")
        return boxes, patches, probs


class StageClock:
    """Milliseconds per pipeline stage: `lap(name)` ends the stage that ran since the last lap.

    Two `perf_counter` calls and a dict store per stage (well under a microsecond), so the
    product always times itself and the benchmark reports exactly what `Reader.read` does.
    """

    __slots__ = ("_last", "_start", "ms")

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Record the time since the previous lap (or the start) as `stage`."""
        now = time.perf_counter()
        self.ms[stage] = (now - self._last) * 1000.0
        self._last = now

    def total_ms(self) -> float:
        """Milliseconds from the start to the last lap."""
        return (self._last - self._start) * 1000.0


def _to_frame_pixels(boxes_xywh: np.ndarray, scale: float, frame_hw: tuple[int, int]
                     ) -> np.ndarray:
    """(N, 4) int64 boxes found on the (possibly shrunk) working image, in the input frame's
    pixels."""
    boxes = np.asarray(boxes_xywh, np.int64).reshape(-1, 4)
    if scale >= 1.0:
        return boxes
    height, width = frame_hw
    corners = boxes[:, :2] + boxes[:, 2:]
    top_left = (boxes[:, :2] / scale).astype(np.int64)
    bottom_right = np.minimum(np.ceil(corners / scale).astype(np.int64), [width, height])
    return np.concatenate([top_left, bottom_right - top_left], axis=1)
