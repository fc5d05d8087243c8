"""The plain data that flows between the pipeline's stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BoxXYWH = tuple[int, int, int, int]  # integer pixels of the input frame


@dataclass(frozen=True, slots=True)
class Digit:
    """One read digit: its class, how sure the model is, and where it is."""

    label: int
    confidence: float
    box: BoxXYWH
    # Class probabilities (10,) after any smoothing; kept for tracking and debugging.
    probs: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        return {"label": int(self.label), "confidence": round(float(self.confidence), 4),
                "box": [int(v) for v in self.box]}


@dataclass(frozen=True, slots=True)
class Number:
    """Digits on one line, close together, read left to right."""

    text: str
    confidence: float
    box: BoxXYWH
    digits: tuple[Digit, ...] = field(default=(), compare=False, repr=False)

    def to_json(self) -> dict:
        return {"text": self.text, "confidence": round(float(self.confidence), 4),
                "box": [int(v) for v in self.box]}


@dataclass(slots=True)
class FrameResult:
    """Everything the reader found in one frame, plus what the debug view shows."""

    digits: list[Digit]
    numbers: list[Number]
    time_ms: float
    mask: np.ndarray | None = field(default=None, repr=False)     # binary ink mask, uint8
    patches: np.ndarray | None = field(default=None, repr=False)  # (N, 28, 28) float32 in [0, 1]
    patch_labels: np.ndarray | None = field(default=None, repr=False)  # (N,) raw predictions
    # Milliseconds per pipeline stage, in order ("threshold", "contours", ...); they add up to
    # `time_ms`. Not part of the `--json` contract.
    stage_ms: dict[str, float] = field(default_factory=dict, repr=False)

    def to_json(self, source: str, frame_index: int) -> dict:
        """The `--json` contract: one object per frame."""
        return {"source": source, "frame": int(frame_index), "time_ms": round(self.time_ms, 3),
                "digits": [d.to_json() for d in self.digits],
                "numbers": [n.to_json() for n in self.numbers]}
