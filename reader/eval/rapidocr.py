"""RapidOCR as a comparison reader: PP-OCRv4 detection and recognition on ONNX Runtime.

The optional extra `digit-reader[compare]` installs `rapidocr-onnxruntime`, whose models ship
inside the wheel (nothing is downloaded). RapidOCR reads whole text lines; each line's text is
kept to its digits and split at spaces into numbers, and a line's box is split evenly into one
box per character (RapidOCR gives no per-character boxes), as done for Tesseract.
"""

from __future__ import annotations

import numpy as np

from reader.errors import UserError


def rapidocr_version() -> str | None:
    """The installed rapidocr-onnxruntime version, or None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version("rapidocr-onnxruntime")
    except metadata.PackageNotFoundError:
        return None


def lines_to_result(lines: list | None) -> dict:
    """RapidOCR's [(4 corner points, text, score), ...] -> {'digits': [], 'numbers': []}."""
    digits, numbers = [], []
    for corners, text, score in lines or []:
        points = np.asarray(corners, np.float64).reshape(-1, 2)
        x0, y0 = (float(v) for v in points.min(axis=0))
        x1, y1 = (float(v) for v in points.max(axis=0))
        chars = "".join(" " if c.isspace() else c for c in str(text) if c.isdigit() or c.isspace())
        if not chars.strip():
            continue
        char_w = (x1 - x0) / len(chars)
        confidence = round(float(score), 4)
        top, height = round(y0), max(round(y1 - y0), 1)

        start = 0
        for word in chars.split(" "):
            if word:
                left, width = _span(x0, char_w, start, start + len(word))
                numbers.append({"text": word, "confidence": confidence,
                                "box": [left, top, width, height]})
                for i, char in enumerate(word):
                    left, width = _span(x0, char_w, start + i, start + i + 1)
                    digits.append({"label": int(char), "confidence": confidence,
                                   "box": [left, top, width, height]})
            start += len(word) + 1
    return {"digits": digits, "numbers": numbers}


def _span(x0: float, char_w: float, first: int, last: int) -> tuple[int, int]:
    """(left, width) of characters first..last-1 of a line starting at x0, evenly split."""
    left = round(x0 + first * char_w)
    return left, max(round(x0 + last * char_w) - left, 1)


class RapidOcrReader:
    """Reads a BGR frame with RapidOCR (default models and settings, text-direction step off)."""

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError:
            raise UserError("rapidocr-onnxruntime is not installed; pip install"
                            " 'digit-reader[compare]' or skip the RapidOCR comparison") from None
        self.engine = RapidOCR()

    def read(self, frame: np.ndarray) -> dict:
        """Read one frame; returns {'digits': [...], 'numbers': [...]} like `FrameResult`."""
        lines, _ = self.engine(frame, use_cls=False)
        return lines_to_result(lines)
