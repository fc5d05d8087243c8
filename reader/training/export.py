"""Write the trained model: the Keras training artifact and the light LiteRT runtime model.

Every file is written to a temporary name in the destination folder and renamed into place,
so a failed or interrupted save leaves the previous model intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from reader.classify import DigitClassifier


def _temp_path_beside(path: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(name)


def write_atomically(path: Path, write) -> Path:
    """Call `write(tmp_path)`, then rename the result to `path`; clean up on any failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path_beside(path, "".join(path.suffixes) or ".tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


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
