"""The MNIST loader: real files load; broken files are one clear error naming the file."""

import gzip
import struct

import numpy as np
import pytest

from reader.training.mnist import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    SHARED_MNIST_DIRS,
    MnistError,
    load_mnist,
)


def idx_bytes(magic: int, array: np.ndarray, shape=None) -> bytes:
    shape = array.shape if shape is None else shape
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in shape) + \
        array.astype(np.uint8).tobytes()


def write_set(folder, n_train=6, n_test=4, gz=False, **overrides):
    """Four tiny IDX files; `overrides` replaces one file's bytes by stem."""
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": idx_bytes(IMAGES_MAGIC, rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": idx_bytes(LABELS_MAGIC, np.arange(n_train) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(IMAGES_MAGIC, rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes(LABELS_MAGIC, np.arange(n_test) % 10),
    }
    files.update({k.replace("_", "-"): v for k, v in overrides.items()})
    for stem, data in files.items():
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_tiny_files_load_with_their_values(tmp_path, gz):
    files = write_set(tmp_path, gz=gz)
    mnist = load_mnist(tmp_path)
    assert mnist.x_train.shape == (6, 28, 28) and mnist.x_test.shape == (4, 28, 28)
    assert mnist.y_train.tolist() == [0, 1, 2, 3, 4, 5]
    assert mnist.x_train.tobytes() == files["train-images-idx3-ubyte"][16:]
    assert len(mnist.sha256) == 4


def test_bad_magic_names_the_file(tmp_path):
    write_set(tmp_path, train_labels_idx1_ubyte=idx_bytes(IMAGES_MAGIC, np.zeros(6), shape=(6,)))
    with pytest.raises(MnistError, match="train-labels-idx1-ubyte.*bad magic"):
        load_mnist(tmp_path)


def test_truncated_data_is_reported(tmp_path):
    good = idx_bytes(IMAGES_MAGIC, np.zeros((4, 28, 28)))
    write_set(tmp_path, t10k_images_idx3_ubyte=good[:-100])
    with pytest.raises(MnistError, match="t10k-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path)


def test_truncated_gzip_is_reported(tmp_path):
    write_set(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MnistError, match="train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_label_count_mismatch_is_reported(tmp_path):
    write_set(tmp_path, train_labels_idx1_ubyte=idx_bytes(LABELS_MAGIC, np.zeros(5)))
    with pytest.raises(MnistError, match="5 labels for 6 images"):
        load_mnist(tmp_path)


def test_missing_file_and_folder_say_what_to_pass(tmp_path):
    write_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(MnistError, match="missing t10k-labels-idx1-ubyte.*--data"):
        load_mnist(tmp_path)
    with pytest.raises(MnistError, match="no such folder"):
        load_mnist(tmp_path / "nope")


SHARED = next((d for d in SHARED_MNIST_DIRS if d.is_dir()), None)


@pytest.mark.skipif(SHARED is None, reason="../shared/data/mnist not present")
def test_the_real_files_match_their_published_counts():
    mnist = load_mnist(SHARED)
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                   974, 1009]
    sums = dict(line.split()[::-1] for line in (SHARED / "SHA256SUMS").read_text().splitlines())
    assert all(sums[name] == digest for name, digest in mnist.sha256.items())


def test_tests_never_fall_back_to_the_download():
    from reader.training import mnist

    with pytest.raises(MnistError, match="downloads are off"):
        mnist._load_from_keras()  # conftest sets DIGIT_READER_NO_DOWNLOAD=1
