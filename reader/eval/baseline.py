"""The usual approach of public webcam-digit projects, reproduced faithfully as a yardstick.

What those tutorials do, step by step: grayscale, 5x5 Gaussian blur, Otsu threshold (inverted, so
ink is white), external contours, keep bounding boxes by a simple size rule, crop the box from the
thresholded image, pad it to a square, resize to 28x28 and call `model.predict` once per digit.
Deliberately missing, because they are what our reader adds: no deskew, no centre-of-mass shift,
no 20x20 box inside the 28x28 patch, no batching, no confidence threshold.

Digits are grouped into numbers with `reader.numbers.group_numbers`, the reader's own grouping, so
that the comparison measures only the recognition front (threshold -> crop -> classify); the
tutorials mostly stop at per-digit labels and have no grouping of their own to copy.

Imports Keras (and so TensorFlow) when a `BaselineReader` is built; never used on the live path.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reader.detections import Digit
from reader.errors import UserError
from reader.numbers import group_numbers

DEFAULT_SEED_MODEL = Path(__file__).resolve().parents[2] / "models" / "seed.keras"
# The size rule, relative to the frame height so that it means the same on a 640x480 webcam frame
# and a 12-megapixel photo (tutorials hard-code pixels for their one camera, e.g. h >= 20).
MIN_HEIGHT_FRACTION = 0.025
MAX_HEIGHT_FRACTION = 0.8
MIN_WIDTH_PX = 3


def threshold_usual(frame: np.ndarray) -> np.ndarray:
    """Grayscale, 5x5 Gaussian blur, inverted Otsu threshold: white ink on black, uint8."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    _, thresh = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return thresh


def boxes_usual(thresh: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes of external contours that pass the simple size rule."""
    contours, _ = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    frame_h = thresh.shape[0]
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w >= MIN_WIDTH_PX and MIN_HEIGHT_FRACTION * frame_h <= h <= MAX_HEIGHT_FRACTION * frame_h:
            boxes.append((int(x), int(y), int(w), int(h)))
    return boxes


def patch_usual(thresh: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Crop the box, pad it to a square with black, resize to 28x28; float32 in [0, 1]."""
    x, y, w, h = box
    crop = thresh[y:y + h, x:x + w]
    side = max(w, h)
    top, left = (side - h) // 2, (side - w) // 2
    square = cv2.copyMakeBorder(crop, top, side - h - top, left, side - w - left,
                                cv2.BORDER_CONSTANT, value=0)
    return cv2.resize(square, (28, 28), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


class BaselineReader:
    """Reads frames the usual way with the seed Keras network (models/seed.keras).

    `batched=True` is the first fix an engineer would make: one `predict_on_batch` call for all
    of a frame's patches instead of one `predict` per digit (same boxes, same patches).
    """

    def __init__(self, model_path: str | Path | None = None, batched: bool = False):
        path = Path(model_path) if model_path is not None else DEFAULT_SEED_MODEL
        if not path.is_file():
            raise UserError(f"{path}: seed model not found; train it (scripts/train.py) or skip"
                            " the usual-approach comparison")
        import keras  # heavy; only the comparison needs it

        self.model = keras.saving.load_model(path)
        # Seed networks take (28, 28) or (28, 28, 1); match whichever this one was built with.
        self.input_shape = tuple(self.model.input_shape[1:])
        self.batched = batched

    def classify_one(self, patch: np.ndarray) -> np.ndarray:
        """Class probabilities (10,) for one patch: one `model.predict` call, as tutorials do."""
        probs = self.model.predict(patch.reshape((1, *self.input_shape)), verbose=0)[0]
        return np.asarray(probs, dtype=np.float32)

    def read(self, frame: np.ndarray) -> dict:
        """Read one frame; returns {'digits': [...], 'numbers': [...]} like `FrameResult`."""
        thresh = threshold_usual(frame)
        boxes = boxes_usual(thresh)
        if self.batched and boxes:
            patches = np.stack([patch_usual(thresh, box) for box in boxes])
            all_probs = np.asarray(self.model.predict_on_batch(
                patches.reshape((len(boxes), *self.input_shape))), np.float32)
        else:
            all_probs = [self.classify_one(patch_usual(thresh, box)) for box in boxes]
        digits = []
        for box, probs in zip(boxes, all_probs):
            label = int(np.argmax(probs))
            digits.append(Digit(label=label, confidence=float(probs[label]), box=box, probs=probs))
        numbers = group_numbers(digits)
        return {"digits": [d.to_json() for d in digits], "numbers": [n.to_json() for n in numbers]}


class KerasBatchClassifier:
    """`DigitClassifier`'s interface on a Keras model with one `predict_on_batch` per frame:
    digit-reader's pipeline run on TensorFlow instead of LiteRT, for the speed comparison."""

    def __init__(self, model_path: str | Path):
        import keras  # heavy; only the comparison needs it

        self.model = keras.saving.load_model(Path(model_path))
        self.input_shape = tuple(self.model.input_shape[1:])

    def predict(self, patches: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) float32 for (N, 28, 28) patches."""
        if len(patches) == 0:
            return np.zeros((0, 10), np.float32)
        batch = np.ascontiguousarray(patches, np.float32).reshape((len(patches), *self.input_shape))
        return np.asarray(self.model.predict_on_batch(batch), np.float32)
