"""The readers digit-reader is measured against, behind one small interface.

Each peer reads a BGR frame into the `FrameResult.to_json` shape ({'digits': [], 'numbers': []}),
so the evaluation and the benchmark score and time every reader the same way. Heavy imports
(TensorFlow, ONNX Runtime) happen only when a peer is built.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
NAMES = {
    "reader": "digit-reader",
    "keras-batch": "digit-reader pipeline on Keras (predict_on_batch)",
    "baseline": "usual approach (predict per digit)",
    "baseline-batch": "usual approach (predict_on_batch)",
    "rapidocr": "RapidOCR (PP-OCRv4, ONNX Runtime)",
    "tesseract": "Tesseract --psm 11",
}


@dataclass
class PeerPaths:
    """Model files the peers load."""

    model: Path = MODELS_DIR / "digits.tflite"        # digit-reader
    keras_model: Path = MODELS_DIR / "digits.keras"   # the same network before export
    seed_model: Path = MODELS_DIR / "seed.keras"      # the usual approach's network


@dataclass
class Peer:
    """One reader under test: `read(frame, kind)` with kind image/video/photo, and `reset()`."""

    name: str
    read: Callable[[np.ndarray, str], dict]
    reset: Callable[[], None] = lambda: None


def unavailable(name: str, paths: PeerPaths) -> str | None:
    """Why peer `name` cannot run here (missing model, package or command), or None."""
    if name == "reader" and not paths.model.is_file():
        return f"{paths.model} not found (train it: scripts/train.py)"
    if name == "keras-batch" and not paths.keras_model.is_file():
        return f"{paths.keras_model} not found (scripts/train.py writes it beside the .tflite)"
    if name.startswith("baseline") and not paths.seed_model.is_file():
        return f"{paths.seed_model} not found (train the seed network first)"
    if name == "rapidocr":
        from reader.eval.rapidocr import rapidocr_version

        if rapidocr_version() is None:
            return "rapidocr-onnxruntime not installed (pip install 'digit-reader[compare]')"
    if name == "tesseract" and shutil.which("tesseract") is None:
        return "`tesseract` command not installed (apt-get install tesseract-ocr)"
    return None


def build_peer(name: str, paths: PeerPaths, min_confidence: float = 0.5) -> Peer:
    """Load peer `name` (see NAMES). digit-reader tracks digits on video and not on stills."""
    if name in ("reader", "keras-batch"):
        from reader.pipeline import Reader

        still = Reader(paths.model, min_confidence=min_confidence)
        tracked = Reader(paths.model, min_confidence=min_confidence, track=True)
        if name == "keras-batch":
            from reader.eval.baseline import KerasBatchClassifier

            still.classifier = tracked.classifier = KerasBatchClassifier(paths.keras_model)

        def read(frame: np.ndarray, kind: str) -> dict:
            return (tracked if kind == "video" else still).read(frame).to_json("", 0)

        return Peer(name, read, tracked.reset)
    if name in ("baseline", "baseline-batch"):
        from reader.eval.baseline import BaselineReader

        usual = BaselineReader(paths.seed_model, batched=name == "baseline-batch")
        return Peer(name, lambda frame, kind: usual.read(frame))
    if name == "rapidocr":
        from reader.eval.rapidocr import RapidOcrReader

        rapid = RapidOcrReader()
        return Peer(name, lambda frame, kind: rapid.read(frame))
    if name == "tesseract":
        from reader.eval.tesseract import TesseractReader

        tesseract = TesseractReader()
        return Peer(name, lambda frame, kind: tesseract.read(frame))
    raise ValueError(f"unknown reader {name!r}; one of {', '.join(NAMES)}")
