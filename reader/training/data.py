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
    num_classes: int = 10
    negatives: dict | None = None   # not-a-digit patches in x_train by kind (label 10)


def make_splits(mnist: Mnist, val_size: int, seed: int, limit: int | None = None,
                reader_normalized: bool = False, negatives: float = 0.0) -> Splits:
    """Hold out `val_size` training digits for validation; the test set stays untouched.

    Images become the network's input, float32 (N, 28, 28, 1) in [0, 1]; see
    `as_network_input` for `reader_normalized`. With `negatives` > 0, that many not-a-digit
    patches per training digit (see `negatives.make_negatives`, made from the training
    digits only) join the training set with label 10, and the model gets 11 classes.
    """
    order = np.random.default_rng(seed).permutation(len(mnist.x_train))
    if limit is not None:  # small runs (tests, smoke checks) take a random subset
        order = order[: limit + val_size]
    val_idx, train_idx = order[:val_size], order[val_size:]

    def prepare(images):
        return as_network_input(images, reader_normalized)[..., None]

    x_train, y_train = prepare(mnist.x_train[train_idx]), mnist.y_train[train_idx]
    counts = None
    if negatives > 0:
        from reader.training.negatives import NOT_A_DIGIT, make_negatives

        patches, counts = make_negatives(round(negatives * len(train_idx)), seed,
                                         mnist.x_train[train_idx], mnist.y_train[train_idx])
        x_train = np.concatenate([x_train, patches[..., None]])
        y_train = np.concatenate([y_train, np.full(len(patches), NOT_A_DIGIT, y_train.dtype)])
    return Splits(x_train, y_train, prepare(mnist.x_train[val_idx]), mnist.y_train[val_idx],
                  prepare(mnist.x_test), mnist.y_test, 11 if negatives > 0 else 10, counts)


def training_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                     augment: bool, first_batch: int = 0, elastic: bool = False
                     ) -> tf.data.Dataset:
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
            lambda i, batch: (augment_batch(batch[0], i, seed, elastic), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(x: np.ndarray, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Batches in order, for validation and testing."""
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(2)
