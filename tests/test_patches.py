"""Digits in a frame become MNIST-like 28x28 patches: centred, 20 px, upright, MNIST's pen."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import MNIST_SAMPLE

from reader.contours import find_digit_boxes
from reader.patches import (
    MNIST_STROKE_PX,
    make_patches,
    normalize_digit,
    stroke_width_px,
    work_image,
)
from reader.threshold import ink_mask
from reader.training.mnist import load_mnist

HEIGHT, WIDTH = 480, 640
SUPERSAMPLE = 4
# Strokes of handwritten digits as polylines in a unit box (x right, y down).
STROKES = {
    "7": [[(0.05, 0.05), (0.95, 0.05), (0.35, 0.95)]],
    "4": [[(0.7, 0.95), (0.7, 0.05), (0.05, 0.65), (0.95, 0.65)]],
    "1": [[(0.5, 0.0), (0.5, 1.0)]],
}


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(MNIST_SAMPLE)


@pytest.fixture(scope="module")
def mnist_stroke_range(mnist):
    """10th-90th percentile of MNIST's stroke width, measured on its 28x28 images."""
    widths = [stroke_width_px(image) for image in mnist.x_train[:1000]]
    return np.percentile(widths, 10), np.percentile(widths, 90)


def digit_ink(char: str, height_px: int, pen_px: float, shear: float = 0.0) -> np.ndarray:
    """Anti-aliased ink (0..1) of a hand-drawn `char`, `height_px` tall, slanted by `shear`
    (x moves right by shear * height going up)."""
    s = SUPERSAMPLE
    width_px = int(height_px * 0.6)
    margin = int(pen_px) + 2 + int(abs(shear) * height_px)
    canvas = np.zeros(((height_px + 2 * margin) * s, (width_px + 2 * margin) * s), np.uint8)
    for line in STROKES[char]:
        points = [((margin + u * width_px + shear * (1 - v) * height_px) * s,
                   (margin + v * height_px) * s) for u, v in line]
        cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 255,
                      max(1, round(pen_px * s)), cv2.LINE_AA)
    small = cv2.resize(canvas, (canvas.shape[1] // s, canvas.shape[0] // s),
                       interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def photograph(ink: np.ndarray, x: int, y: int, seed: int = 0) -> np.ndarray:
    """Paper lit unevenly (dimmer to the left and top), `ink` written dark at (x, y)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    light = (0.55 + 0.45 * xx / WIDTH) * (0.8 + 0.2 * yy / HEIGHT)
    alpha = np.zeros((HEIGHT, WIDTH), np.float32)
    h, w = ink.shape
    alpha[y:y + h, x:x + w] = ink
    image = light * (205.0 * (1 - alpha) + 40.0 * alpha) + rng.normal(0, 2.5, alpha.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def read_patches(gray: np.ndarray) -> np.ndarray:
    mask = ink_mask(gray)
    return make_patches(gray, mask, find_digit_boxes(mask))


def centre_of_mass(patch: np.ndarray) -> tuple[float, float]:
    m = cv2.moments(patch)
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


def long_side(patch: np.ndarray) -> int:
    _, _, w, h = cv2.boundingRect((patch > 0).astype(np.uint8))
    return max(w, h)


@pytest.mark.parametrize("char", ["7", "4"])
@pytest.mark.parametrize("pen_px", [1.5, 14.0])  # ballpoint and thick marker, digit 90 px
def test_shifted_slanted_digit_becomes_an_mnist_like_patch(char, pen_px, mnist_stroke_range):
    ink = digit_ink(char, 90, pen_px, shear=0.3)
    patches = read_patches(photograph(ink, 333, 171))
    assert patches.shape == (1, 28, 28) and patches.dtype == np.float32
    patch = patches[0]
    assert 0.0 <= patch.min() and patch.max() <= 1.0 and patch.max() > 0.9
    cx, cy = centre_of_mass(patch)
    assert abs(cx - 14) <= 1 and abs(cy - 14) <= 1
    assert 19 <= long_side(patch) <= 21
    low, high = mnist_stroke_range
    assert low <= stroke_width_px(patch) <= high


def test_thin_pen_and_thick_marker_give_nearly_the_same_patch():
    thin, thick = (read_patches(photograph(digit_ink("4", 90, pen), 200, 150))[0]
                   for pen in (1.5, 14.0))
    assert np.corrcoef(thin.ravel(), thick.ravel())[0, 1] > 0.8


def test_slanted_one_is_stood_upright():
    slanted = digit_ink("1", 80, 5.0, shear=0.45)  # ~24 degrees
    patch = read_patches(photograph(slanted, 300, 200))[0]
    m = cv2.moments(patch)
    assert abs(m["mu11"] / m["mu02"]) < 0.08
    _, _, w, h = cv2.boundingRect((patch > 0.5).astype(np.uint8))
    assert h >= 19 and w <= 6  # a bar, not a diagonal


def test_mnist_digits_round_trip_through_the_front_of_the_pipeline(mnist):
    # A test digit printed dark on paper, photographed, thresholded, boxed and patched
    # comes back as the patch normalize_digit makes of the original.
    correlations = []
    for index in range(0, 200, 10):
        original = mnist.x_test[index]
        ink = cv2.resize(original, (84, 84), interpolation=cv2.INTER_LINEAR) / 255.0
        patches = read_patches(photograph(ink.astype(np.float32), 150 + index, 120 + index))
        assert len(patches) == 1, f"MNIST test digit {index}: {len(patches)} boxes"
        expected = normalize_digit(original)
        correlations.append(np.corrcoef(patches[0].ravel(), expected.ravel())[0, 1])
    assert np.median(correlations) > 0.9
    assert min(correlations) > 0.75


def test_mnist_stroke_constant_matches_mnist(mnist):
    widths = []
    for image in mnist.x_train:  # the 1,200 of tests/data/mnist
        work = work_image(image)
        _, _, w, h = cv2.boundingRect((work > 127).astype(np.uint8))
        widths.append(stroke_width_px(work) * 20 / max(w, h))
    assert abs(np.median(widths) - MNIST_STROKE_PX) < 0.15


def test_mnist_digit_stays_itself(mnist):
    for image in mnist.x_test[:50]:
        patch = normalize_digit(image, match_stroke=False)
        cx, cy = centre_of_mass(patch)
        assert abs(cx - 14) <= 0.5 and abs(cy - 14) <= 0.5
        assert long_side(patch) == 20


def test_neighbours_stroke_reaching_into_the_box_is_left_out():
    alone = np.zeros((120, 160), np.float32)
    alone[20:110, 20:74] = digit_ink("7", 80, 4.0)[:90, :54]
    with_neighbour = alone.copy()
    # A neighbour's long tail sweeping under the 7 and into its box from the right.
    cv2.line(with_neighbour, (150, 20), (58, 106), 1.0, 4, cv2.LINE_AA)
    gray_alone = photograph(alone, 200, 150)
    mask_alone = ink_mask(gray_alone)
    boxes = find_digit_boxes(mask_alone)
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    gray = photograph(with_neighbour, 200, 150)
    mask = ink_mask(gray)
    tail = np.zeros_like(mask)
    tail[150:270, 200:360] = (with_neighbour - alone > 0.5).astype(np.uint8)
    tail_in_box = tail[y:y + h, x:x + w] > 0
    # The tail is inside the box, and in the mask there.
    assert np.count_nonzero(tail_in_box) > 50
    assert np.count_nonzero(mask[y:y + h, x:x + w][tail_in_box]) > 0.9 * np.count_nonzero(
        tail_in_box)
    patch_alone = make_patches(gray_alone, mask_alone, boxes)[0]
    patch = make_patches(gray, mask, boxes)[0]
    assert np.corrcoef(patch_alone.ravel(), patch.ravel())[0, 1] > 0.97


def test_a_page_of_fifty_digits_gives_fifty_full_patches(mnist):
    gray = np.full((HEIGHT, WIDTH), 210, np.uint8)
    for i, image in enumerate(mnist.x_test[:50]):
        x, y = 20 + 60 * (i % 10), 20 + 90 * (i // 10)
        glyph = 255 - cv2.resize(image, (56, 56), interpolation=cv2.INTER_LINEAR)
        np.minimum(gray[y:y + 56, x:x + 56], glyph, out=gray[y:y + 56, x:x + 56])
    mask = ink_mask(gray)
    boxes = find_digit_boxes(mask)
    assert len(boxes) == 50
    # Its speed is measured by scripts/bench.py (the "patches" stage), not asserted here.
    patches = make_patches(gray, mask, boxes)
    assert patches.shape == (50, 28, 28) and (patches.max(axis=(1, 2)) > 0.9).all()


def test_blank_input_gives_blank_patches():
    assert not normalize_digit(np.zeros((30, 20), np.float32)).any()
    gray = np.full((100, 100), 200, np.uint8)
    mask = np.zeros((100, 100), np.uint8)
    patches = make_patches(gray, mask, np.array([[10, 10, 20, 30]]))
    assert patches.shape == (1, 28, 28) and not patches.any()
    assert make_patches(gray, mask, np.zeros((0, 4), np.int32)).shape == (0, 28, 28)


def test_a_grey_mask_gives_the_patches_of_its_binarised_self():
    # A mask with soft edges (a resized or blurred one) is binarised, not taken as ink
    # wherever it is not zero.
    gray = np.full((120, 200), 210, np.uint8)
    cv2.polylines(gray, [np.array([(40, 30), (80, 30), (55, 95)], np.int32)], False, 40, 5)
    cv2.line(gray, (130, 30), (130, 95), 40, 5)
    mask = cv2.threshold(gray, 128, 255, cv2.THRESH_BINARY_INV)[1]
    soft = cv2.GaussianBlur(mask, (5, 5), 0)
    hard = cv2.threshold(soft, 127, 255, cv2.THRESH_BINARY)[1]
    boxes = find_digit_boxes(mask)
    assert len(boxes) == 2
    assert not np.array_equal(make_patches(gray, cv2.dilate(hard, None), boxes),
                              make_patches(gray, hard, boxes))  # the mask matters...
    assert np.array_equal(make_patches(gray, soft, boxes), make_patches(gray, hard, boxes))
