"""Benchmark frames: pages of MNIST test digits in dark ink on unevenly lit paper.

Deterministic for a seed, so every reader in a comparison is timed on the same pixels.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

DIGITS_PER_LINE = 10
NUMBER_LENGTHS = (3, 2, 4, 1)  # cycled to split a line into numbers
MNIST_INK_BOX = 20 / 28        # MNIST digits fill the central 20x20 of 28x28
GLYPH_COUNT = 200


def mnist_test_digits(count: int = GLYPH_COUNT, data_dir: Path | None = None) -> np.ndarray:
    """MNIST test digits (never training data), shuffled with a fixed seed: (count, 28, 28)."""
    from reader.training.mnist import load_mnist

    x_test = load_mnist(data_dir).x_test
    return x_test[np.random.default_rng(0).permutation(len(x_test))[:count]]


def draw_page(width: int, height: int, n_digits: int, glyphs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """A BGR page with `n_digits` MNIST digits in lines of numbers, on unevenly lit paper."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 0.85 + 0.15 * (xx / width) * (1 - 0.5 * yy / height)  # a lamp to one side
    paper = 215 * light + rng.normal(0, 3, (height, width)).astype(np.float32)
    ink = np.zeros((height, width), np.float32)
    if n_digits:
        per_line = min(n_digits, DIGITS_PER_LINE)
        n_lines = math.ceil(n_digits / per_line)
        # Height so that the widest line fits 80% of the width and the lines 80% of the height.
        digit_h = min(0.8 * width / (per_line * 1.0 + 3 * 1.2), 0.8 * height / (n_lines * 2.0),
                      0.25 * height)
        cell = round(digit_h / MNIST_INK_BOX)
        step_x = int(1.0 * digit_h)  # MNIST digits are narrower than tall: a clear gap
        y = int(0.1 * height)
        placed = 0
        for _ in range(n_lines):
            x = int(0.1 * width)
            in_line = min(per_line, n_digits - placed)
            lengths_left = list(NUMBER_LENGTHS)
            in_number = 0
            for _ in range(in_line):
                glyph = glyphs[placed % len(glyphs)].astype(np.float32) / 255.0
                alpha = cv2.resize(glyph, (cell, cell), interpolation=cv2.INTER_LINEAR)
                region = ink[y:y + cell, x:x + cell]
                np.maximum(region, alpha[:region.shape[0], :region.shape[1]], out=region)
                placed += 1
                in_number += 1
                x += step_x
                if in_number == lengths_left[0]:
                    lengths_left = lengths_left[1:] + lengths_left[:1]
                    in_number = 0
                    x += int(1.2 * digit_h)  # the gap between numbers
            y += int(2.0 * digit_h)
    gray = np.clip(paper * (1 - 0.8 * ink), 0, 255).astype(np.uint8)
    # A faint colour cast, as a webcam gives.
    return cv2.merge([gray, np.clip(gray.astype(np.int16) + 4, 0, 255).astype(np.uint8),
                      np.clip(gray.astype(np.int16) + 8, 0, 255).astype(np.uint8)])


def bench_frames(sizes: tuple[tuple[int, int], ...], digit_counts: tuple[int, ...],
                 seed: int = 0, data_dir: Path | None = None
                 ) -> dict[tuple[int, int, int], np.ndarray]:
    """{(width, height, digits): BGR page} for every size and digit count, in that order."""
    glyphs = mnist_test_digits(data_dir=data_dir)
    rng = np.random.default_rng(seed)
    return {(width, height, count): draw_page(width, height, count, glyphs, rng)
            for width, height in sizes for count in digit_counts}
