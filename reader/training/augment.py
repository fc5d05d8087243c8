"""Augmentation that looks like what the reader feeds the network from a camera.

The reader deskews, centres and stroke-normalises each digit, so what remains is small residual
rotation, shear, scale and shift, pens thinner or thicker than MNIST's, focus blur and sensor
noise. Everything runs in the TensorFlow graph on whole batches with stateless random ops keyed
by (seed, batch number), so a run is reproducible whatever the parallelism.
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ROTATION_DEG = 12.0
MAX_SHEAR = 0.25            # x' = x + shear * y
SCALE_RANGE = (0.85, 1.12)
MAX_SHIFT_PX = 2.0
P_THICKER, P_THINNER = 0.2, 0.15
P_BLUR, P_NOISE = 0.25, 0.3
NOISE_STD_MAX = 0.08
# Elastic distortion (Simard, Steinkraus & Platt 2003): a random displacement field smoothed
# by a Gaussian of ELASTIC_SIGMA px and scaled by ELASTIC_ALPHA (about 1.5 px typical
# displacement), on this share of the images.
P_ELASTIC = 0.5
ELASTIC_SIGMA = 4.0
ELASTIC_ALPHA = 34.0


def _affine_transforms(seed: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """Per-image 3x3 output->input maps (rows of 8 for ImageProjectiveTransform)."""
    def uniform(i, low, high):
        return tf.random.stateless_uniform([n], seed=seed + i, minval=low, maxval=high)

    angle = uniform(1, -MAX_ROTATION_DEG, MAX_ROTATION_DEG) * (math.pi / 180.0)
    shear = uniform(2, -MAX_SHEAR, MAX_SHEAR)
    scale = uniform(3, *SCALE_RANGE)
    shift_x = uniform(4, -MAX_SHIFT_PX, MAX_SHIFT_PX)
    shift_y = uniform(5, -MAX_SHIFT_PX, MAX_SHIFT_PX)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # Inverse map about the patch centre (13.5, 13.5): rotate/scale, then shear, then shift.
    a0, a1 = cos, -sin + shear * cos
    b0, b1 = sin, cos + shear * sin
    c = 13.5
    a2 = c - a0 * (c + shift_x) - a1 * (c + shift_y)
    b2 = c - b0 * (c + shift_x) - b1 * (c + shift_y)
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _gaussian_blur(images: tf.Tensor, sigma: float = 0.8) -> tf.Tensor:
    taps = tf.range(-2, 3, dtype=tf.float32)
    kernel_1d = tf.exp(-(taps ** 2) / (2 * sigma ** 2))
    kernel_1d /= tf.reduce_sum(kernel_1d)
    kernel = tf.reshape(kernel_1d[:, None] * kernel_1d[None, :], [5, 5, 1, 1])
    return tf.nn.conv2d(images, kernel, strides=1, padding="SAME")


def _elastic(images: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
    """Warp each image by its own smooth random displacement field (bilinear sampling)."""
    n = tf.shape(images)[0]
    size = 28
    radius = int(2 * ELASTIC_SIGMA)
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(taps ** 2) / (2 * ELASTIC_SIGMA ** 2))
    kernel /= tf.reduce_sum(kernel)
    field = tf.random.stateless_uniform([n, size, size, 2], seed=key + 20, minval=-1.0,
                                        maxval=1.0)
    # Separable blur of both displacement channels (depthwise: x and y stay apart).
    k_row = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 2, 1])
    k_col = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 2, 1])
    field = tf.nn.depthwise_conv2d(field, k_row, [1, 1, 1, 1], "SAME")
    field = tf.nn.depthwise_conv2d(field, k_col, [1, 1, 1, 1], "SAME") * ELASTIC_ALPHA
    grid_y, grid_x = tf.meshgrid(tf.range(size, dtype=tf.float32),
                                 tf.range(size, dtype=tf.float32), indexing="ij")
    src_x = tf.clip_by_value(grid_x[None] + field[..., 0], 0.0, size - 1.0)
    src_y = tf.clip_by_value(grid_y[None] + field[..., 1], 0.0, size - 1.0)
    x0, y0 = tf.floor(src_x), tf.floor(src_y)
    fx, fy = (src_x - x0)[..., None], (src_y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, size - 1), tf.minimum(y0 + 1, size - 1)
    batch = tf.broadcast_to(tf.range(n)[:, None, None], tf.shape(x0))

    def at(y, x):
        return tf.gather_nd(images, tf.stack([batch, y, x], axis=-1))

    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return top * (1 - fy) + bottom * fy


def augment_batch(images: tf.Tensor, batch_index: tf.Tensor, seed: int,
                  elastic: bool = False) -> tf.Tensor:
    """Randomly distort a batch (N, 28, 28, 1) float32 in [0, 1]."""
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(batch_index, tf.int64)])
    key = tf.cast(key, tf.int32)
    n = tf.shape(images)[0]
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=_affine_transforms(key, n), output_shape=[28, 28],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")

    def chosen(i, p):  # per-image coin flips, broadcastable over the image
        flips = tf.random.stateless_uniform([n], seed=key + i) < p
        return tf.reshape(flips, [n, 1, 1, 1])

    if elastic:
        images = tf.where(chosen(16, P_ELASTIC), _elastic(images, key), images)

    # Stroke thickness: grey-level dilation (max filter) or erosion (min filter).
    thicker = tf.nn.max_pool2d(images, 2, 1, "SAME")
    thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    images = tf.where(chosen(10, P_THICKER), thicker, images)
    images = tf.where(chosen(11, P_THINNER) & ~chosen(10, P_THICKER), thinner, images)
    images = tf.where(chosen(12, P_BLUR), _gaussian_blur(images), images)
    noise_std = tf.random.stateless_uniform([n, 1, 1, 1], seed=key + 13, maxval=NOISE_STD_MAX)
    noise = tf.random.stateless_normal(tf.shape(images), seed=key + 14) * noise_std
    images = tf.where(chosen(15, P_NOISE), images + noise, images)
    return tf.clip_by_value(images, 0.0, 1.0)
