"""Distillation: one network learns what a small ensemble of trained networks says.

An ensemble of independently trained models reads MNIST better than any one of them, but the
reader ships one model and its inference budget. So the student trains on targets that mix the
teachers' averaged probabilities with the labels (Hinton, Vinyals & Dean 2015). The teachers
look at the very batch the student sees, after augmentation: on the training digits as they are,
models trained on them answer with near-certainty and pass on little; on a distorted digit their
doubts ("a 4, or a 9") are what the student learns from.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from reader.errors import UserError

# The share of each target that comes from the teachers; the rest is the (smoothed) label.
TEACHER_WEIGHT = 0.7


def load_teachers(paths: list[Path], num_classes: int) -> list[keras.Model]:
    """The teacher models (.keras files), each checked to answer in the student's classes."""
    teachers = []
    for path in paths:
        model = keras.models.load_model(path, compile=False)
        if model.output_shape[-1] != num_classes:
            raise UserError(f"{path}: a teacher with {model.output_shape[-1]} classes cannot"
                            f" teach a {num_classes}-class model")
        model.trainable = False
        teachers.append(model)
    return teachers


def with_teacher_targets(dataset: tf.data.Dataset, teachers: list[keras.Model],
                         num_classes: int, label_smoothing: float = 0.0,
                         teacher_weight: float = TEACHER_WEIGHT) -> tf.data.Dataset:
    """(images, int labels) batches -> (images, soft targets (N, num_classes))."""
    def targets(images, labels):
        taught = tf.add_n([teacher(images, training=False) for teacher in teachers])
        taught /= float(len(teachers))
        hard = tf.one_hot(tf.cast(labels, tf.int32), num_classes)
        hard = hard * (1.0 - label_smoothing) + label_smoothing / num_classes
        return images, teacher_weight * taught + (1.0 - teacher_weight) * hard

    return dataset.map(targets, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def one_hot_labels(dataset: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    """(images, int labels) -> (images, one-hot): validation in the targets' format."""
    return dataset.map(lambda images, labels: (
        images, tf.one_hot(tf.cast(labels, tf.int32), num_classes)))
