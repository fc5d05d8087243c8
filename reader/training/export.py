"""Write the trained model: the Keras training artifact and the light LiteRT runtime model.

Every file is written to a temporary name in the destination folder and renamed into place,
so a failed or interrupted save leaves the previous model intact.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from reader.atomic import write_atomically
from reader.classify import DigitClassifier


def save_keras(model: keras.Model, path: Path) -> Path:
    """The training artifact (`.keras`): architecture and weights, written atomically.

    The optimizer's moments are left out (the checkpoint keeps them for --resume): they would
    triple the file for nothing a user of the model needs.
    """
    weights_only = model.__class__.from_config(model.get_config())  # uncompiled, unlike a clone
    weights_only.set_weights(model.get_weights())
    return write_atomically(path, lambda tmp: weights_only.save(tmp))


def save_litert(model: keras.Model, path: Path) -> Path:
    """The runtime model (`.tflite`, read by ai-edge-litert), written atomically."""
    return write_atomically(path, lambda tmp: model.export(str(tmp), format="litert",
                                                            verbose=False))


def argmax_agreement(model: keras.Model, litert_path: Path, patches: np.ndarray) -> float:
    """Fraction of patches on which the exported model picks the same class as Keras."""
    keras_probs = model.predict(patches, batch_size=1024, verbose=0)
    runtime_probs = DigitClassifier(litert_path).predict(patches[..., 0])
    return float(np.mean(keras_probs.argmax(1) == runtime_probs.argmax(1)))
