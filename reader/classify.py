"""The digit classifier behind one small interface, run on the light LiteRT runtime.

`DigitClassifier.predict` takes all of a frame's patches at once. TensorFlow is never imported:
ai-edge-litert loads the exported `.tflite` in about a tenth of a second.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import numpy as np

from reader.errors import UserError
from reader.native import native_stderr_silenced


def _default_model() -> Path:
    """The shipped model: package data of `reader.models`, which is the checkout's top-level
    `models/` folder (an editable install maps the package there, so a model scripts/train.py
    just wrote is the one read) or its copy inside an installed wheel."""
    try:
        # A namespace package (models/ holds no code): joinpath gives the file's real path.
        return Path(str(importlib.resources.files("reader.models").joinpath("digits.tflite")))
    except ModuleNotFoundError:  # run from a source tree that was never installed
        return Path(__file__).resolve().parent.parent / "models" / "digits.tflite"


DEFAULT_MODEL = _default_model()
MODELS_DIR = DEFAULT_MODEL.parent
PATCH_SHAPE = (28, 28)
NUM_CLASSES = 10             # the digits 0-9
NOT_A_DIGIT = 10             # a model with an 11th output calls clutter this class
ACCEPTED_CLASS_COUNTS = (10, 11)
# Batches are padded up to one of these sizes, so the interpreter is rarely re-allocated while
# little work is wasted on padding.
BATCH_BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024)


class DigitClassifier:
    """Classify (N, 28, 28) float32 patches in [0, 1] (white ink on black) into 10 digits,
    plus "not a digit" (index `NOT_A_DIGIT`) when the model has 11 outputs (`num_classes`)."""

    def __init__(self, model_path: str | Path | None = None, num_threads: int | None = None):
        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL
        self._interpreter = _load_interpreter(self.model_path,
                                              num_threads or min(2, os.cpu_count() or 1))
        self._input = self._interpreter.get_input_details()[0]
        self._output_index = self._interpreter.get_output_details()[0]["index"]
        self.num_classes = _check_is_digit_model(self.model_path, self._input,
                                                 self._interpreter)
        self._batch = 0  # the batch size the interpreter is allocated for
        self._padded = np.zeros((0, *PATCH_SHAPE, 1), np.float32)

    def predict(self, patches: np.ndarray) -> np.ndarray:
        """Class probabilities (N, num_classes) float32 for N patches, one interpreter call per
        1024."""
        count = len(patches)
        if count == 0:
            return np.zeros((0, self.num_classes), np.float32)
        if count > BATCH_BUCKETS[-1]:
            step = BATCH_BUCKETS[-1]
            return np.concatenate([self.predict(patches[i:i + step])
                                   for i in range(0, count, step)])
        bucket = next(b for b in BATCH_BUCKETS if b >= count)
        if bucket != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], [bucket, *PATCH_SHAPE, 1])
            self._interpreter.allocate_tensors()
            self._batch = bucket
            self._padded = np.zeros((bucket, *PATCH_SHAPE, 1), np.float32)
        self._padded[:count, ..., 0] = patches
        self._padded[count:] = 0.0
        self._interpreter.set_tensor(self._input["index"], self._padded)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index)[:count].copy()


def _load_interpreter(path: Path, num_threads: int):
    if not path.is_file():
        raise UserError(f"{path}: model file not found; pass --model PATH or retrain with"
                        " scripts/train.py")
    if path.suffix != ".tflite":
        raise UserError(f"{path}: the reader needs the exported .tflite model"
                        " (scripts/train.py writes one beside the .keras file)")
    from ai_edge_litert.interpreter import Interpreter  # deferred: keeps `--help` instant

    try:
        with native_stderr_silenced():  # LiteRT prints an INFO banner from C++ on load
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise UserError(f"{path}: not a readable LiteRT model ({str(exc).splitlines()[0]})"
                        ) from None
    return interpreter


def _check_is_digit_model(path: Path, input_detail: dict, interpreter) -> int:
    shape = tuple(int(v) for v in input_detail["shape"][1:])
    dtype = np.dtype(input_detail["dtype"]).name
    if shape != (*PATCH_SHAPE, 1) or dtype != "float32":
        raise UserError(f"{path}: not a digit model: input is {'x'.join(map(str, shape))}"
                        f" {dtype}, expected 28x28x1 float32")
    classes = int(interpreter.get_output_details()[0]["shape"][-1])
    if classes not in ACCEPTED_CLASS_COUNTS:
        raise UserError(f"{path}: not a digit model: it has {classes} output classes, expected"
                        " 10 (digits) or 11 (digits and not-a-digit)")
    return classes
