"""Drawing: boxes and text land where the digits are, nothing else changes, odd frames are safe."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reader.detections import Digit, FrameResult, Number
from reader.numbers import group_numbers
from reader.overlay import (
    BANNER_BLUE,
    VIEW_MAX_WH,
    debug_view,
    draw_banner,
    draw_help,
    draw_overlay,
)

H, W = 240, 320
DEBUG_INK = np.array([150, 140, 110], np.uint8)


def result_with(digits: list[Digit], mask=None, patches=None) -> FrameResult:
    return FrameResult(digits=digits, numbers=group_numbers(digits), time_ms=1.0, mask=mask,
                       patches=patches)


def two_digit_result(confidence: float = 0.95) -> FrameResult:
    return result_with([Digit(4, confidence, (100, 100, 26, 40)),
                        Digit(2, confidence, (132, 100, 26, 40))])


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    diff = before.astype(int) - after.astype(int)
    return np.abs(diff).sum(axis=-1) > 0 if diff.ndim == 3 else diff != 0


def test_overlay_draws_around_each_box_and_leaves_far_pixels_alone():
    frame = np.full((H, W, 3), 90, np.uint8)
    before = frame.copy()
    draw_overlay(frame, two_digit_result())
    touched = changed(before, frame)
    for x, y, w, h in [(100, 100, 26, 40), (132, 100, 26, 40)]:
        assert touched[y, x:x + w].all() and touched[y:y + h, x].all()  # the box outline
        assert not touched[y + h + 2:y + h + 16, x:x + w].any()  # sure digits: no caption
    # Nowhere near a digit or its text: untouched.
    assert not touched[:60, 200:].any() and not touched[160:, :].any()
    assert not touched[:, :90].any()


@pytest.mark.parametrize("confidence, captions, expect_caption", [
    (0.6, "unsure", True), (0.95, "unsure", False), (0.95, "all", True), (0.6, "none", False)])
def test_captions_only_where_they_help(confidence, captions, expect_caption):
    frame = np.full((H, W, 3), 90, np.uint8)
    before = frame.copy()
    draw_overlay(frame, result_with([Digit(4, confidence, (100, 100, 26, 40))]),
                 captions=captions)
    under = changed(before, frame)[142:165, 95:160]
    assert under.any() == expect_caption


def test_labels_do_not_cover_digits_of_the_row_above():
    # Two rows 10 px apart: a label above the lower number would sit on the upper digits.
    digits = [Digit(d, 0.95, (100 + 32 * i, y, 26, 40))
              for y, row in ((100, (3, 7, 4)), (150, (8, 7, 9))) for i, d in enumerate(row)]
    frame = np.full((H, W, 3), 90, np.uint8)
    draw_overlay(frame, result_with(digits))
    for digit in digits:
        x, y, w, h = digit.box
        inside = frame[y + 3:y + h - 3, x + 3:x + w - 3]
        assert (inside == 90).all(), f"a label covers digit {digit}"


def label_height_px(frame: np.ndarray) -> int:
    """Rows holding the number label's green fill."""
    green = (frame[..., 1] > 150) & (frame[..., 2] < 50) & (frame[..., 0] < 50)
    rows = np.flatnonzero(green.sum(axis=1) > 0.5 * green.sum(axis=1).max())
    return int(rows[-1] - rows[0] + 1) if len(rows) else 0


@pytest.mark.parametrize("height, width", [(480, 640), (3000, 4000), (2448, 3264)])
def test_label_is_readable_at_the_displayed_size(height, width):
    # The window shows a frame shrunk to fit VIEW_MAX_WH; the label must stay ~20 screen px.
    frame = np.zeros((height, width, 3), np.uint8)
    side = height // 10
    draw_overlay(frame, result_with([Digit(5, 0.95, (width // 2, height // 2, side, side))]))
    shown_scale = min(1.0, VIEW_MAX_WH[0] / width, VIEW_MAX_WH[1] / height)
    above_the_digit = frame[:height // 2 - 12]  # where the label goes, above the box line
    assert 18 <= label_height_px(above_the_digit) * shown_scale <= 40


def test_banner_marks_the_top_right_corner():
    frame = np.zeros((H, W, 3), np.uint8)
    draw_banner(frame, "PAUSED")
    blue = (frame == BANNER_BLUE).all(axis=-1)
    assert blue[:40, W // 2:].sum() > 500 and not blue[:, :W // 4].any() and not blue[60:].any()


def test_number_text_is_drawn_on_a_filled_label_above_the_number():
    frame = np.zeros((H, W, 3), np.uint8)
    draw_overlay(frame, two_digit_result())
    above = frame[72:99, 100:150]
    # A filled background, mostly in the number's (green) colour, with dark text on it.
    green = (above[..., 1] > 150) & (above[..., 2] < 50)
    assert green.mean() > 0.5
    assert (above.sum(axis=-1) < 60).any()


@pytest.mark.parametrize("confidence, channel", [(0.95, 1), (0.3, 2)])
def test_box_colour_follows_confidence(confidence, channel):
    frame = np.zeros((H, W, 3), np.uint8)
    draw_overlay(frame, result_with([Digit(7, confidence, (100, 100, 26, 40))]))
    edge = frame[100:140, 100].astype(int)
    assert (edge[:, channel] > 150).all()
    assert (edge.sum(axis=1) - edge[:, channel] < 60).all()


def test_hud_line_is_drawn_at_the_top_left_only_when_given():
    frame = np.zeros((H, W, 3), np.uint8)
    draw_overlay(frame, result_with([]))
    assert not frame.any()
    draw_overlay(frame, result_with([]), hud={"FPS": "30.1", "time": "3.2 ms", "numbers": "4"})
    assert frame[:25, :150].any()
    assert not frame[40:].any()


def test_number_at_the_top_edge_keeps_its_text_inside_the_frame():
    frame = np.zeros((H, W, 3), np.uint8)
    draw_overlay(frame, result_with([Digit(5, 0.95, (10, 0, 26, 40))]))
    under = frame[41:70, 10:40]
    assert ((under[..., 1] > 150) & (under[..., 2] < 50)).mean() > 0.3


def test_help_panel_darkens_its_area_and_shows_text():
    frame = np.full((H, W, 3), 200, np.uint8)
    draw_help(frame, ["q  quit", "d  debug view", "h  help"])
    panel = frame[40:100, 5:60]
    assert (panel < 100).mean() > 0.5  # darkened, so the video still shows through dimly
    assert (panel > 200).any()  # white text on it (anti-aliased: not every version hits 255)
    assert (frame[150:, 150:] == 200).all()


def test_debug_view_shows_mask_boxes_and_patch_strip_at_frame_size():
    frame = np.zeros((480, 640, 3), np.uint8)
    mask = np.zeros((480, 640), np.uint8)
    mask[100:140, 100:126] = 255
    patches = np.zeros((2, 28, 28), np.float32)
    patches[:, 4:24, 10:18] = 1.0
    result = result_with([Digit(4, 0.9, (100, 100, 26, 40)), Digit(2, 0.9, (132, 100, 26, 40))],
                         mask=mask, patches=patches)
    view = debug_view(frame, result)
    assert view.shape == frame.shape and view.dtype == np.uint8
    assert not frame.any()  # the frame itself is left alone
    strip_top = 480 - int(480 * 0.3)
    strip = view[strip_top:]
    assert (strip == 255).sum() >= 2 * (20 * 2) * (8 * 2)  # both patches, scaled >= 2x
    assert strip[:, 320:].sum() < strip[:, :320].sum()  # laid out from the left
    mask_area = view[:strip_top]
    ink = (mask_area == DEBUG_INK).all(axis=-1)
    assert ink.any() and not ink[:, 320:].any()  # the mask, shrunk, above the strip


def test_debug_view_does_not_hide_the_bottom_of_the_frame():
    mask = np.zeros((480, 640), np.uint8)
    mask[440:470, 300:320] = 255  # ink at the very bottom, where the patch strip goes
    patches = np.ones((40, 28, 28), np.float32)
    view = debug_view(np.zeros((480, 640, 3), np.uint8), result_with([], mask=mask,
                                                                     patches=patches))
    assert (view == DEBUG_INK).all(axis=-1).sum() > 0.4 * 30 * 20 * 0.6 ** 2


def test_debug_view_accepts_a_mask_of_another_size_and_no_patches():
    mask = np.zeros((120, 160), np.uint8)
    mask[10:20, 10:20] = 1  # 0/1 masks work as well as 0/255
    view = debug_view(np.zeros((240, 320, 3), np.uint8), result_with([], mask=mask))
    assert view.shape == (240, 320, 3)
    assert view[25:35, 25:35].all(axis=-1).all()  # no patches: the mask fills the view


@pytest.mark.parametrize("frame", [
    np.zeros((1, 1, 3), np.uint8),
    np.zeros((1, 1), np.uint8),
    np.zeros((H, W), np.uint8),
    cv2.cvtColor(np.zeros((H, W), np.uint8), cv2.COLOR_GRAY2BGR),
    np.zeros((30, 20, 3), np.uint8),
], ids=["1x1", "1x1-gray", "gray", "gray-to-bgr", "tiny"])
@pytest.mark.parametrize("with_digits", [False, True])
def test_nothing_raises_on_odd_frames_or_zero_digits(frame, with_digits):
    result = two_digit_result() if with_digits else result_with([])
    result.mask = np.zeros(frame.shape[:2], np.uint8)
    result.patches = np.ones((len(result.digits), 28, 28), np.float32)
    draw_overlay(frame, result, hud={"FPS": "30.0"})
    draw_help(frame, ["q  quit"])
    view = debug_view(frame, result)
    assert view.shape == frame.shape[:2] + (3,)


def test_gray_frame_gets_visible_boxes():
    frame = np.zeros((H, W), np.uint8)
    draw_overlay(frame, result_with([Digit(7, 0.95, (100, 100, 26, 40))]))
    assert (frame[100:140, 100] > 50).all()


def test_numbers_without_digits_in_result_are_still_labelled():
    result = FrameResult(digits=[], numbers=[Number("12", 0.9, (100, 100, 60, 40))], time_ms=0.0)
    frame = np.zeros((H, W, 3), np.uint8)
    draw_overlay(frame, result)
    assert frame[70:99, 100:150].any() and not frame[100:, :].any()


def test_debug_view_shows_stage_times_when_the_result_has_them():
    from dataclasses import dataclass, field

    @dataclass(slots=True)
    class TimedResult(FrameResult):
        stage_ms: dict = field(default_factory=dict)

    plain = result_with([], patches=np.ones((3, 28, 28), np.float32))
    timed = TimedResult(plain.digits, plain.numbers, 1.0, patches=plain.patches,
                        stage_ms={"threshold": 1.2, "contours": 0.4, "classify": 0.9})
    frame = np.zeros((480, 640, 3), np.uint8)
    without, with_times = debug_view(frame, plain), debug_view(frame, timed)
    differ_rows = np.flatnonzero((without != with_times).any(axis=(1, 2)))
    patch_rows = np.flatnonzero((without == 255).any(axis=(1, 2)))
    assert len(differ_rows) and differ_rows.max() < patch_rows.min()  # text above the patches


def test_window_help_names_every_key():
    from reader.window import HELP_LINES, KEY_ACTIONS

    help_text = "\n".join(HELP_LINES)
    names = {" ": "space", 27: "Esc", ord("="): "+", ord("."): ". (dot)"}
    for key in KEY_ACTIONS:
        shown = names.get(key, chr(key) if isinstance(key, int) and key != 27 else key)
        assert shown in help_text, f"key {shown!r} is not in the help"
