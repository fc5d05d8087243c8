"""Digit boxes: digits (a thin 1 too) are kept; specks, lines and cut-off blobs are not (blots
are the classifier's: "not a digit")."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reader.contours import find_digit_boxes
from reader.threshold import ink_mask

HEIGHT, WIDTH = 480, 640


def blank() -> np.ndarray:
    return np.zeros((HEIGHT, WIDTH), np.uint8)


# Digits drawn as pen strokes (polylines and ellipses in a box 0.6 wide, 1 tall), not with
# putText: how a font is rasterised changes between OpenCV versions (5.1 anti-aliases it and
# ignores the thickness), polylines of a given thickness do not.
STROKES = {
    "0": [("ellipse", (0.3, 0.5), (0.27, 0.48))],
    "1": [[(0.12, 0.18), (0.32, 0.0), (0.32, 1.0)]],
    "2": [[(0.04, 0.22), (0.16, 0.04), (0.34, 0.0), (0.52, 0.1), (0.55, 0.3), (0.44, 0.52),
           (0.04, 1.0), (0.58, 1.0)]],
    "3": [[(0.05, 0.08), (0.3, 0.0), (0.52, 0.1), (0.52, 0.34), (0.26, 0.48), (0.55, 0.62),
           (0.55, 0.88), (0.3, 1.0), (0.03, 0.92)]],
    "4": [[(0.44, 1.0), (0.44, 0.0), (0.02, 0.7), (0.6, 0.7)]],
    "5": [[(0.56, 0.0), (0.1, 0.0), (0.06, 0.45), (0.3, 0.4), (0.52, 0.52), (0.56, 0.8),
           (0.36, 1.0), (0.03, 0.92)]],
    "6": [[(0.5, 0.02), (0.26, 0.1), (0.08, 0.4), (0.05, 0.75), (0.2, 1.0), (0.45, 0.97),
           (0.57, 0.76), (0.45, 0.56), (0.2, 0.53), (0.06, 0.66)]],
    "7": [[(0.02, 0.0), (0.58, 0.0), (0.22, 1.0)]],
    "8": [("ellipse", (0.3, 0.24), (0.22, 0.23)), ("ellipse", (0.3, 0.73), (0.27, 0.26))],
    "9": [("ellipse", (0.29, 0.28), (0.26, 0.27)), [(0.55, 0.28), (0.5, 1.0)]],
}


def draw_digit(mask: np.ndarray, char: str, x: int, y: int, scale: float = 1.6,
               thickness: int = 3) -> tuple[int, int, int, int]:
    """Draw `char` about 22 * `scale` px tall with its top-left near (x, y); return its exact
    box (x, y, w, h). The same 0/255 pixels on every OpenCV version."""
    glyph = np.zeros_like(mask)
    size = 22.0 * scale

    def at(u, v):
        return (round(x + u * size), round(y + v * size))

    for stroke in STROKES[char]:
        if stroke[0] == "ellipse":
            _, (cu, cv), (au, av) = stroke
            cv2.ellipse(glyph, at(cu, cv), (round(au * size), round(av * size)), 0, 0, 360,
                        255, thickness, cv2.LINE_8)
        else:
            cv2.polylines(glyph, [np.array([at(u, v) for u, v in stroke], np.int32)], False,
                          255, thickness, cv2.LINE_8)
    mask |= glyph
    return cv2.boundingRect(glyph)


def draw_one(mask: np.ndarray, x: int, y: int, height: int = 50, width: int = 3
             ) -> tuple[int, int, int, int]:
    """A bare vertical stroke, the way many people write a 1."""
    cv2.rectangle(mask, (x, y), (x + width - 1, y + height - 1), 255, -1)
    return (x, y, width, height)


def iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    w = min(ax0 + aw, bx0 + bw) - max(ax0, bx0)
    h = min(ay0 + ah, by0 + bh) - max(ay0, by0)
    inter = max(w, 0) * max(h, 0)
    return inter / float(aw * ah + bw * bh - inter)


def matched(found: np.ndarray, expected: list) -> list[bool]:
    return [any(iou(box, e) > 0.8 for box in found.tolist()) for e in expected]


def test_digits_and_a_thin_one_are_kept_junk_is_dropped():
    mask = blank()
    digits = [draw_digit(mask, c, 60 + 60 * i, 150) for i, c in enumerate("2075")]
    digits.append(draw_one(mask, 320, 150))
    rng = np.random.default_rng(1)
    for x, y in rng.integers(20, [WIDTH - 20, HEIGHT - 20], size=(300, 2)):
        if not 130 < y < 230:
            cv2.circle(mask, (int(x), int(y)), int(rng.integers(0, 3)), 255, -1)  # specks
    cv2.line(mask, (30, 300), (610, 306), 255, 2)                  # a ruling line
    cv2.circle(mask, (0, 400), 40, 255, -1)                       # a thumb at the border
    draw_digit(mask, "8", WIDTH - 15, 250)                        # a digit cut by the border
    cv2.line(mask, (520, 60), (540, 60), 255, 3)                   # a dash
    cv2.line(mask, (380, 90), (560, 110), 255, 2)                  # an underline stroke
    boxes = find_digit_boxes(mask)
    assert boxes.dtype == np.int32 and boxes.shape[1] == 4
    assert all(matched(boxes, digits)), boxes
    assert len(boxes) == len(digits), boxes


def test_boxes_are_sorted_left_to_right():
    mask = blank()
    for x in (400, 100, 250, 550):
        draw_digit(mask, "4", x, 100)
    boxes = find_digit_boxes(mask)
    assert len(boxes) == 4
    assert list(boxes[:, 0]) == sorted(boxes[:, 0])


def test_empty_mask_gives_no_boxes():
    boxes = find_digit_boxes(blank())
    assert boxes.shape == (0, 4) and boxes.dtype == np.int32


@pytest.mark.parametrize("height, kept", [(6, False), (12, True), (420, True), (450, False)])
def test_size_limits_relative_to_the_frame(height, kept):
    mask = blank()
    box = draw_one(mask, 300, 15, height=height, width=max(3, height // 8))
    mask_has = matched(find_digit_boxes(mask), [box])[0]
    assert mask_has == kept


def test_a_five_with_a_detached_top_bar_is_one_box():
    mask = blank()
    body = draw_digit(mask, "5", 200, 200, scale=2.0, thickness=4)
    x, y, w, h = body
    mask[y:y + h // 4, :] = 0                                  # cut the bar off the body...
    cv2.line(mask, (x + w // 3, y + 2), (x + w - 1, y + 2), 255, 4)  # ...and draw it apart
    boxes = find_digit_boxes(mask)
    assert len(boxes) == 1
    _, by, _, bh = boxes[0]
    assert by <= y + 1 and by + bh >= y + h - 1                  # bar and body together


def test_digits_on_two_close_lines_stay_separate():
    mask = blank()
    top = draw_digit(mask, "7", 200, 100)
    bottom = draw_digit(mask, "3", 205, 100 + top[3] + 6)        # 6 px below the 7
    boxes = find_digit_boxes(mask)
    assert all(matched(boxes, [top, bottom])) and len(boxes) == 2


def test_a_vertical_ruling_line_far_taller_than_the_digits_is_dropped():
    mask = blank()
    digits = [draw_digit(mask, c, 100 + 60 * i, 200) for i, c in enumerate("386")]
    cv2.line(mask, (500, 20), (502, 400), 255, 2)               # margin line, not a 1
    boxes = find_digit_boxes(mask)
    assert all(matched(boxes, digits)) and len(boxes) == 3


def test_broken_faint_ruling_lines_are_not_read_as_ones():
    # A faint printed ruling crosses the threshold only in pieces: hairline strokes of any
    # length, far finer than the pen. A '1' written with the pen stays.
    mask = blank()
    digits = [draw_digit(mask, c, 100 + 70 * i, 200, thickness=5) for i, c in enumerate("347")]
    digits.append(draw_one(mask, 330, 200, height=digits[0][3], width=6))
    rng = np.random.default_rng(3)
    for x in (60, 95, 290, 370, 450):
        for y0 in range(15, HEIGHT - 60, 70):
            length = int(rng.integers(12, 55))
            cv2.line(mask, (x, y0), (x + 1, y0 + length), 255, 1)
    boxes = find_digit_boxes(mask)
    assert all(matched(boxes, digits)), boxes
    assert len(boxes) == len(digits), boxes


def test_a_flat_zero_wider_than_tall_is_a_digit():
    mask = blank()
    cv2.ellipse(mask, (300, 200), (40, 22), 0, 0, 360, 255, 4)      # w/h ~1.8
    zero = cv2.boundingRect(mask)
    boxes = find_digit_boxes(mask)
    assert matched(boxes, [zero]) == [True] and len(boxes) == 1


def test_thousands_of_specks_stay_within_the_candidate_cap():
    rng = np.random.default_rng(0)
    mask = np.where(rng.random((HEIGHT, WIDTH)) < 0.02, 255, 0).astype(np.uint8)
    for i in range(200):  # and plenty of digit-sized blobs to choose from
        draw_digit(mask, str(i % 10), 15 + (i % 20) * 30, 15 + (i // 20) * 45, scale=0.9,
                   thickness=2)
    boxes = find_digit_boxes(mask, max_candidates=50)
    assert 0 < len(boxes) <= 50


def photographed(ink: np.ndarray, n_specks: int, seed: int = 0) -> np.ndarray:
    """Ink mask of `ink` (a mask) written dark on paper, with `n_specks` dark dots of 3 px
    (dust, pepper noise) strewn over the page."""
    gray = np.full((HEIGHT, WIDTH), 215, np.uint8)
    gray[ink > 0] = 40
    rng = np.random.default_rng(seed)
    for x, y in rng.integers(0, [WIDTH, HEIGHT], size=(n_specks, 2)):
        cv2.circle(gray, (int(x), int(y)), 1, 30, -1)
    return ink_mask(gray)


def covers_centre(boxes: np.ndarray, box) -> bool:
    """Some found box holds the centre of `box` (specks stuck to a digit may grow its box)."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return any(x <= cx < x + w and y <= cy < y + h for x, y, w, h in boxes.tolist())


def test_chains_of_dense_specks_are_not_taken_for_digits():
    # 4000 specks chain into ~70 blobs of 10-25 px by chance; the digits are ~35 px.
    ink = blank()
    digits = [draw_digit(ink, c, 40 + 58 * i, 200) for i, c in enumerate("3141592653")]
    boxes = find_digit_boxes(photographed(ink, 4000))
    assert all(covers_centre(boxes, d) for d in digits)
    assert len(boxes) <= len(digits) + 10, f"{len(boxes)} boxes for {len(digits)} digits"


def test_a_small_digit_among_big_ones_is_kept_on_a_page_with_a_few_specks():
    # Only dense specks make a frame ask its digits to be of about one size.
    ink = blank()
    digits = [draw_digit(ink, c, 60 + 110 * i, 150, scale=3.0, thickness=6) for i, c in
              enumerate("2048")]
    digits.append(draw_digit(ink, "7", 520, 190, scale=0.5, thickness=1))   # ~11 px tall
    boxes = find_digit_boxes(photographed(ink, 150, seed=3))
    assert all(covers_centre(boxes, d) for d in digits), boxes


def test_a_digit_drawn_inside_a_circle_is_found():
    mask = blank()
    digit = draw_digit(mask, "6", 290, 200)
    cv2.circle(mask, (digit[0] + digit[2] // 2, digit[1] + digit[3] // 2), 45, 255, 2)
    assert matched(find_digit_boxes(mask), [digit])[0]


def test_a_frame_of_noise_gives_no_digits_whatever_its_number_of_blobs():
    # Its cost is measured by scripts/bench.py, not asserted here.
    rng = np.random.default_rng(2)
    mask = np.where(rng.random((HEIGHT, WIDTH)) < 0.1, 255, 0).astype(np.uint8)  # ~20000 blobs
    assert len(find_digit_boxes(mask)) == 0


def test_more_separate_specks_than_16_bit_labels_can_count():
    mask = np.zeros((960, 1280), np.uint8)
    mask[::3, ::3] = 255                                         # ~137000 one-pixel specks
    mask[400:560, 500:700] = 0
    digit = draw_digit(mask, "5", 560, 440)
    boxes = find_digit_boxes(mask)
    assert all(matched(boxes, [digit])) and len(boxes) == 1


def test_rejects_non_mask_input():
    with pytest.raises(ValueError, match="2-D uint8"):
        find_digit_boxes(np.zeros((10, 10, 3), np.uint8))


def test_a_grey_mask_is_read_as_its_binarised_self():
    # A mask with soft edges (anti-aliased drawing, a resized mask) finds the same boxes as
    # its 0/255 version: grey fringe is neither ink nor extra edges.
    mask = blank()
    for i, c in enumerate("347"):
        draw_digit(mask, c, 100 + 70 * i, 200, thickness=5)
    draw_one(mask, 330, 200, height=40, width=6)
    for x in (60, 95, 450):
        cv2.line(mask, (x, 15), (x + 1, 60), 255, 1)
    soft = cv2.GaussianBlur(mask, (3, 3), 0)
    assert len(np.unique(soft)) > 10
    hard = cv2.threshold(soft, 127, 255, cv2.THRESH_BINARY)[1]
    assert np.array_equal(find_digit_boxes(soft), find_digit_boxes(hard))
    assert len(find_digit_boxes(soft)) == 4


def test_a_six_broken_at_its_waist_is_one_box():
    # Motion blur or a pen skip breaks the thin joint of a 6 into a stem and a loop, each
    # digit-sized; the gap is narrower than the stroke, so they are one digit.
    mask = blank()
    six = draw_digit(mask, "6", 200, 150, scale=3.0, thickness=7)
    _, y, _, h = six
    cut = y + int(h * 0.45)
    mask[cut:cut + 4, :] = 0
    boxes = find_digit_boxes(mask)
    assert len(boxes) == 1
    _, by, _, bh = boxes[0]
    assert by <= y + 1 and by + bh >= y + h - 1


def test_two_close_lines_of_digits_with_a_tiny_gap_stay_apart():
    # Same small gap as a broken digit, but each piece has a digit of its own height beside it.
    mask = blank()
    top_left = draw_digit(mask, "0", 200, 100, thickness=6)
    top_right = draw_digit(mask, "0", 240, 100, thickness=6)
    low_y = 100 + top_left[3] + 3
    low_left = draw_digit(mask, "0", 200, low_y, thickness=6)
    low_right = draw_digit(mask, "0", 240, low_y, thickness=6)
    boxes = find_digit_boxes(mask)
    truth = [top_left, top_right, low_left, low_right]
    assert all(matched(boxes, truth)) and len(boxes) == 4
