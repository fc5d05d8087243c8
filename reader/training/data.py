"""MNIST as tf.data pipelines: a held-out validation split, scaling, augmentation, batching."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from reader.training.augment import augment_batch
from reader.training.mnist import Mnist, as_network_input


@dataclass(frozen=True)
class Splits:
    """float32 (N, 28, 28, 1) images in [0, 1] and int labels for each split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_splits(mnist: Mnist, val_size: int, seed: int, limit: int | None = None,
                reader_normalized: bool = False) -> Splits:
    """Hold out `val_size` training digits for validation; the test set stays untouched.

    Images become the network's input, float32 (N, 28, 28, 1) in [0, 1]; see
    `as_network_input` for `reader_normalized`.
    """
    order = np.random.default_rng(seed).permutation(len(mnist.x_train))
    if limit is not None:  # small runs (tests, smoke checks) take a random subset
        order = order[: limit + val_size]
    val_idx, train_idx = order[:val_size], order[val_size:]

    def prepare(images):
        return as_network_input(images, reader_normalized)[..., None]

    return Splits(prepare(mnist.x_train[train_idx]), mnist.y_train[train_idx],
                  prepare(mnist.x_train[val_idx]), mnist.y_train[val_idx],
                  prepare(mnist.x_test), mnist.y_test)


def training_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                     augment: bool, first_batch: int = 0) -> tf.data.Dataset:
    """Endless shuffled batches (optionally augmented), reproducible by seed.

    The stream repeats, so pass `steps_per_epoch = ceil(len(x) / batch_size)` to `fit`.
    `first_batch` is where a resumed run picks up, so it does not replay epoch 1's draws.
    """
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed + first_batch, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).repeat()
    if augment:
        # Keying the random ops by the running batch number keeps augmentation deterministic
        # and different in every epoch.
        ds = ds.enumerate(start=first_batch).map(
            lambda i, batch: (augment_batch(batch[0], i, seed), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches in order, for validation and testing."""
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(2)
