"""Read the four canonical MNIST IDX files (plain or gzipped), checked, without TensorFlow.

Search order for the folder: an explicit `data_dir`, then `../shared/data/mnist` beside the
checkout, then Keras' cache/download (for users with a connection; never when the environment
has DIGIT_READER_NO_DOWNLOAD=1, as the tests do).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reader.errors import UserError

IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
FILE_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
REPO_ROOT = Path(__file__).resolve().parents[2]
# "../shared/data/mnist" from where the user stands, or beside a source checkout.
SHARED_MNIST_DIRS = (Path("..") / "shared" / "data" / "mnist",
                     REPO_ROOT.parent / "shared" / "data" / "mnist")


class MnistError(UserError):
    """An MNIST file is missing, corrupt, truncated or does not match its partner."""


@dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: images (N, 28, 28) white digit on black, labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str                 # folder the files came from, or "keras-download"
    sha256: dict[str, str]      # file name -> checksum, for the model card


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file of uint8 data, checking magic number and size."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as exc:  # includes gzip.BadGzipFile and EOFError's OSError cousins
        raise MnistError(f"{path}: cannot read ({exc}); re-download or pass --data DIR") from None
    except EOFError:
        raise MnistError(f"{path}: compressed file is truncated; re-download it") from None
    if len(raw) < 4:
        raise MnistError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise MnistError(f"{path}: bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x}"
                         " (not an MNIST IDX file of this kind)")
    ndim = magic & 0xFF
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise MnistError(f"{path}: header is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected_len = header_len + int(np.prod(shape))
    if len(raw) != expected_len:
        what = "truncated" if len(raw) < expected_len else "has trailing bytes"
        raise MnistError(f"{path}: data {what}: header says {shape} = {expected_len - header_len}"
                         f" bytes, file holds {len(raw) - header_len}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


def _find_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise MnistError(f"{folder}: missing {stem}(.gz); pass --data DIR pointing at the four MNIST"
                     " IDX files")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_from_folder(folder: Path) -> Mnist:
    """Load and cross-check the four IDX files in `folder`."""
    paths = {key: _find_file(folder, stem) for key, stem in FILE_STEMS.items()}
    arrays = {}
    for key, path in paths.items():
        arrays[key] = read_idx(path, IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (28, 28):
            raise MnistError(f"{paths[f'{split}_images']}: images are {images.shape[1:]},"
                             " expected 28x28")
        if len(images) != len(labels):
            raise MnistError(f"{paths[f'{split}_labels']}: {len(labels)} labels for"
                             f" {len(images)} images in {paths[f'{split}_images'].name}")
        if labels.size and labels.max() > 9:
            raise MnistError(f"{paths[f'{split}_labels']}: label {labels.max()} is not a digit")
    return Mnist(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                 arrays["test_labels"], source=str(folder),
                 sha256={p.name: _sha256(p) for p in paths.values()})


def _load_from_keras() -> Mnist:
    if os.environ.get("DIGIT_READER_NO_DOWNLOAD") == "1":  # the tests set it
        raise MnistError("no MNIST files found locally and downloads are off"
                         " (DIGIT_READER_NO_DOWNLOAD=1); pass --data DIR")
    try:
        import keras  # heavy: only on this fallback path
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # noqa: BLE001 -- network errors come in many types
        raise MnistError("no MNIST files found locally and the download failed"
                         f" ({type(exc).__name__}); pass --data DIR") from None
    return Mnist(x_train, y_train, x_test, y_test, source="keras-download", sha256={})


def as_network_input(images_uint8: np.ndarray, reader_normalized: bool) -> np.ndarray:
    """MNIST digits (N, 28, 28) uint8 -> float32 (N, 28, 28) in [0, 1], as a model was trained.

    With `reader_normalized`, each digit goes through the reader's own patch normalisation
    (deskew, stroke width, 20x20 box, centre of mass), so training and testing see exactly what
    the live reader feeds the network.
    """
    if not reader_normalized:
        return images_uint8.astype(np.float32) / 255.0
    from reader.patches import normalize_digit  # OpenCV work: only when asked for

    return np.stack([normalize_digit(image) for image in images_uint8]) if len(images_uint8) \
        else np.zeros((0, 28, 28), np.float32)


def load_mnist(data_dir: str | Path | None = None) -> Mnist:
    """Load MNIST from `data_dir`, else the shared folder, else Keras' cache or download."""
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise MnistError(f"{folder}: no such folder; pass --data DIR with the MNIST IDX files")
        return load_from_folder(folder)
    for folder in SHARED_MNIST_DIRS:
        if folder.is_dir():
            return load_from_folder(folder.resolve())
    return _load_from_keras()
