"""The ink mask finds pen strokes on unevenly lit paper, and not shadows, noise or ruling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reader.threshold import InkThresholder, erase_ruling_lines, ink_mask

HEIGHT, WIDTH = 480, 640
PAPER, INK = 210.0, 45.0


def lighting(shadow: bool = True) -> np.ndarray:
    """Light falling off from right to left (to 45%), plus a soft diagonal hand shadow."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    light = 0.45 + 0.55 * xx / WIDTH
    if shadow:
        light = light * np.where(yy > 0.55 * HEIGHT + 0.25 * xx, 0.55, 1.0)
        light = cv2.GaussianBlur(light, (0, 0), 5)
    return light


def photograph(ink_alpha: np.ndarray, light: np.ndarray, noise: float = 3.0,
               paper: float = PAPER, ink: float = INK, seed: int = 0) -> np.ndarray:
    """Grayscale photo of paper with ink coverage `ink_alpha` (0..1) under `light`."""
    rng = np.random.default_rng(seed)
    image = light * (paper * (1.0 - ink_alpha) + ink * ink_alpha)
    image += rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def handwriting(thickness: int = 2, scale: float = 1.6, rows=(150, 330)) -> np.ndarray:
    """Ink coverage of two rows of anti-aliased digits, one row in the shadow's dark corner."""
    canvas = np.zeros((HEIGHT, WIDTH), np.uint8)
    for y in rows:
        cv2.putText(canvas, "3 1 4 1 5 9 2 6", (30, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255,
                    thickness, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


def test_strokes_found_under_gradient_and_shadow_but_not_the_shadow():
    strokes = handwriting()
    mask = ink_mask(photograph(strokes, lighting()))
    assert mask.shape == (HEIGHT, WIDTH) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}
    core = strokes > 0.7
    found = np.count_nonzero(mask[core]) / np.count_nonzero(core)
    paper = cv2.dilate((strokes > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    false_ink = np.count_nonzero(mask[paper]) / np.count_nonzero(paper)
    assert found > 0.97
    assert false_ink < 0.001  # the shadow edge and the dark corner are not ink


def test_strokes_in_the_shadow_are_found_too():
    strokes = handwriting(rows=(400,))  # the row sits in the shadow, at the dark left end
    mask = ink_mask(photograph(strokes, lighting()))
    core = strokes > 0.7
    assert np.count_nonzero(mask[core]) / np.count_nonzero(core) > 0.95


@pytest.mark.parametrize("noise", [2.0, 6.0])
@pytest.mark.parametrize("shadow", [False, True])
def test_blank_page_gives_an_empty_mask(noise, shadow):
    mask = ink_mask(photograph(np.zeros((HEIGHT, WIDTH), np.float32), lighting(shadow), noise))
    assert np.count_nonzero(mask) < 0.0002 * mask.size  # a stray pixel or two at most


def test_dim_underexposed_photo_still_finds_the_strokes():
    strokes = handwriting()
    gray = photograph(strokes, lighting(shadow=False) * 0.35, noise=2.0)  # paper at ~30-75
    mask = ink_mask(gray)
    core = strokes > 0.7
    assert np.count_nonzero(mask[core]) / np.count_nonzero(core) > 0.9
    assert np.count_nonzero(mask[strokes == 0]) < 0.001 * mask.size


def ruled_page(line_darkness: float, slope: float = 0.0) -> np.ndarray:
    """Ink coverage of ruling lines every 40 px (2 px, slightly slanted) at `line_darkness`."""
    lines = np.zeros((HEIGHT, WIDTH), np.uint8)
    for y in range(20, HEIGHT, 40):
        cv2.line(lines, (0, y), (WIDTH - 1, int(y + slope * WIDTH)), 255, 2, cv2.LINE_AA)
    return lines.astype(np.float32) / 255.0 * line_darkness


def test_faint_ruling_lines_are_not_ink_next_to_pen_strokes():
    strokes = handwriting()
    rules = ruled_page(0.12)
    mask = ink_mask(photograph(np.maximum(strokes, rules), lighting(shadow=False)))
    on_rules_only = (rules > 0.05) & (strokes < 0.02)
    assert np.count_nonzero(mask[on_rules_only]) < 0.02 * np.count_nonzero(on_rules_only)
    core = strokes > 0.7
    assert np.count_nonzero(mask[core]) / np.count_nonzero(core) > 0.97


@pytest.mark.parametrize("slope", [0.0, 0.04])
def test_dark_ruling_lines_through_digits_are_erased_and_digits_kept(slope):
    # Rows of digits written across dark lines: the lines pass the threshold, so they must be
    # erased, or every digit on a line would fuse into one blob with it.
    strokes = handwriting(thickness=3, scale=1.8, rows=(150, 310))
    rules = ruled_page(0.6, slope)
    mask = ink_mask(photograph(np.maximum(strokes, rules), lighting(shadow=False)))
    on_rules_only = (rules > 0.3) & (cv2.dilate(strokes, np.ones((5, 5), np.uint8)) < 0.02)
    assert np.count_nonzero(mask[on_rules_only]) < 0.05 * np.count_nonzero(on_rules_only)
    core = strokes > 0.7
    assert np.count_nonzero(mask[core]) / np.count_nonzero(core) > 0.9


def test_a_long_straight_stroke_alone_is_not_taken_for_a_ruling_line():
    # A big 1 across the frame: one line is not a family of ruling lines.
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.line(mask, (320, 40), (322, 440), 255, 3)
    assert np.array_equal(erase_ruling_lines(mask, horizontal=False), mask)


def test_dense_writing_is_not_taken_for_ruling_lines():
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    for y in (120, 200):  # glyphs touching each other, top and bottom edges aligned
        cv2.putText(mask, "0123456789", (10, y), cv2.FONT_HERSHEY_SIMPLEX, 2, 255, 4)
    mask = cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY)[1]  # a mask is 0/255
    assert np.array_equal(erase_ruling_lines(mask, horizontal=True), mask)


def test_sensitivity_plus_finds_faint_pencil_minus_drops_it():
    pencil = handwriting(rows=(200,)) * 0.22  # ~20% darker than the paper at the core
    gray = photograph(np.maximum(pencil, handwriting(rows=(380,))), lighting(shadow=False))
    core = pencil > 0.7 * 0.22
    thresholder = InkThresholder()
    found = {s: np.count_nonzero(thresholder(gray, s)[core]) / np.count_nonzero(core)
             for s in (-1.0, 0.0, 1.0)}
    assert found[-1.0] <= found[0.0] <= found[1.0]
    assert found[1.0] > 0.9
    assert found[-1.0] < 0.3


def test_rejects_colour_and_float_images():
    with pytest.raises(ValueError, match="2-D uint8"):
        ink_mask(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="2-D uint8"):
        ink_mask(np.zeros((10, 10), np.float32))


def ten_digit_row(rng, height_px: int, stroke, gap_px: int, smear_px: int = 0
                  ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Ink (HEIGHT, WIDTH) float32 of the digits 0 to 9 (MNIST sample) in a row at y = 200, and
    each digit's box, widened by a horizontal smear of `smear_px`."""
    from conftest import MNIST_SAMPLE

    from reader.scenes.glyphs import mnist_test_glyphs

    glyphs = mnist_test_glyphs(MNIST_SAMPLE)
    ink = np.zeros((HEIGHT, WIDTH), np.float32)
    boxes, x = [], 40
    for label in range(10):
        alpha = glyphs.render(rng, label, height_px, stroke).alpha
        h, w = alpha.shape
        ink[200:200 + h, x:x + w] = alpha
        boxes.append((x - smear_px // 2, 200, w + smear_px, h))
        x += w + gap_px
    return ink, boxes


def faint_pen_page(seed: int) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A row of the ten digits (MNIST sample) in a thin (1 px), light pen: after the camera's
    slight blur the stroke's core is only ~15% darker than the paper, with sensor noise,
    under uneven light. Returns the gray frame and each digit's box, 0 to 9."""
    from reader.scenes.glyphs import Stroke

    rng = np.random.default_rng(seed)
    ink, boxes = ten_digit_row(rng, 36, Stroke(width_frac=0.02, min_px=1.0), gap_px=22)
    light = lighting(shadow=False) * 0.5 + 0.5   # 73% to 100%
    image = cv2.GaussianBlur(light * PAPER * (1.0 - 0.3 * ink), (0, 0), 0.7)
    image += rng.normal(0.0, 4.0, image.shape)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), boxes


@pytest.mark.parametrize("seed", [0, 2])
def test_a_faint_thin_pen_gives_one_blob_per_digit(seed):
    # Thresholded against the noise pixel by pixel, such a stroke falls apart into dashes.
    from reader.contours import find_digit_boxes

    gray, truth = faint_pen_page(seed)
    found = find_digit_boxes(ink_mask(gray))
    assert len(found) == len(truth)
    for (x, y, w, h), (fx, fy, fw, fh) in zip(truth, found):
        assert abs(fx - x) <= 2 and abs(fy - y) <= 2
        assert abs(fx + fw - x - w) <= 2 and abs(fy + fh - y - h) <= 2


@pytest.mark.parametrize("seed", [0, 2])
def test_a_number_in_a_faint_thin_pen_is_read(seed):
    from conftest import SHIPPED_MODEL

    from reader.pipeline import Reader

    if not SHIPPED_MODEL.exists():
        pytest.skip("no shipped model")
    gray, _ = faint_pen_page(seed)
    assert [n.text for n in Reader().read(gray).numbers] == ["0123456789"]


def motion_blurred_page(seed: int, length_px: int = 18
                        ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A row of the ten digits (MNIST sample, ~32 px tall, ordinary pen) smeared by a horizontal
    camera motion of `length_px`: the strokes along the motion stay dark, those across it (a
    1's stem, the sides of a 0) spread over the motion's length and turn several times fainter.
    Returns the gray frame and each digit's box (smeared), 0 to 9."""
    from reader.scenes.glyphs import Stroke

    rng = np.random.default_rng(seed)
    ink, boxes = ten_digit_row(rng, 32, Stroke(width_frac=0.08, min_px=2.0),
                               gap_px=length_px + 16, smear_px=length_px)
    kernel = np.full((1, length_px), 1.0 / length_px, np.float32)
    image = lighting(shadow=False) * PAPER * (1.0 - 0.75 * cv2.filter2D(ink, -1, kernel))
    image += rng.normal(0.0, 2.0, image.shape)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), boxes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_motion_blurred_digits_keep_their_faint_cross_strokes(seed):
    # Asked to be as dark as a share of the darkest (along-motion) ink, the strokes across the
    # motion drop out and a digit falls apart into flat dashes; joined to the dark strokes they
    # are kept, so each digit is one blob of its full height.
    from reader.contours import find_digit_boxes

    gray, truth = motion_blurred_page(seed)
    found = find_digit_boxes(ink_mask(gray))
    assert len(found) == len(truth)
    for (x, y, w, h), (fx, fy, fw, fh) in zip(truth, found):
        assert fh >= 0.85 * h and abs(fy - y) <= 0.1 * h
        assert fx < x + w and fx + fw > x  # the box of the right digit
