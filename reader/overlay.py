"""Draw what the reader found onto frames: boxes, labels, numbers, a HUD, help and a debug view.

Frames are drawn on in place. Accepted: uint8 BGR (H, W, 3), or uint8 gray (H, W), on which
each colour is drawn as its gray level (drawing in place cannot add channels; convert with
cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) first to get colour). Any size works, down to 1x1:
whatever falls outside the frame is clipped. `debug_view` always returns a new BGR image.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import cv2
import numpy as np

from reader.detections import BoxXYWH, FrameResult

FONT = cv2.FONT_HERSHEY_SIMPLEX
GREEN, YELLOW, RED = (0, 200, 0), (0, 220, 255), (0, 0, 255)  # BGR
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
HIGH_CONFIDENCE, MID_CONFIDENCE = 0.8, 0.5

DIGIT_BOX_THICKNESS = 2
DIGIT_TEXT_SCALE, DIGIT_TEXT_THICKNESS = 0.4, 1
NUMBER_TEXT_SCALE, NUMBER_TEXT_THICKNESS = 0.8, 2
HUD_TEXT_SCALE, HUD_TEXT_THICKNESS = 0.5, 1
HELP_PANEL_DARKNESS = 0.35  # share of the frame left visible behind the help panel
TEXT_PAD_PX = 3

PATCH_SIDE_PX = 28
DEBUG_INK_BGR = np.array([150, 140, 110], np.uint8)  # dimmed so the boxes stay readable
DEBUG_PATCH_SCALE = 2
DEBUG_LABEL_HEIGHT_PX = 14
DEBUG_PATCH_GAP_PX = 4
DEBUG_MAX_STRIP_SHARE = 0.5  # the patch strip may take at most this share of the height


def confidence_colour(confidence: float) -> tuple[int, int, int]:
    """BGR colour for a confidence: green when sure, yellow in between, red when unsure."""
    if confidence >= HIGH_CONFIDENCE:
        return GREEN
    if confidence >= MID_CONFIDENCE:
        return YELLOW
    return RED


def draw_overlay(frame_bgr: np.ndarray, result: FrameResult,
                 hud: dict[str, str] | None = None) -> None:
    """Draw each digit's box and label, each number's text and a HUD line, in place.

    The HUD shows each entry as "key value" (just "value" when the key is ""), joined by " | ",
    e.g. {"FPS": "30.1", "time": "3.2 ms"} -> "FPS 30.1 | time 3.2 ms".
    """
    for digit in result.digits:
        colour = _ink(frame_bgr, confidence_colour(digit.confidence))
        x, y, w, h = digit.box
        cv2.rectangle(frame_bgr, (x, y), (x + w - 1, y + h - 1), colour, DIGIT_BOX_THICKNESS)
        # Digit detail goes under its box (the number's text takes the space above), as short
        # as it can be ("3 .97") so neighbouring digits' details overlap less.
        confidence_text = f"{digit.confidence:.2f}".removeprefix("0")
        cv2.putText(frame_bgr, f"{digit.label} {confidence_text}",
                    (x, y + h + 12), FONT, DIGIT_TEXT_SCALE, colour, DIGIT_TEXT_THICKNESS,
                    cv2.LINE_AA)
    for number in result.numbers:
        _draw_number_text(frame_bgr, number.text, number.box,
                          confidence_colour(number.confidence))
    if hud:
        hud_text = " | ".join(f"{key} {value}" if key else value for key, value in hud.items())
        _draw_label(frame_bgr, hud_text, (TEXT_PAD_PX, TEXT_PAD_PX), HUD_TEXT_SCALE,
                    HUD_TEXT_THICKNESS, _ink(frame_bgr, WHITE), _ink(frame_bgr, BLACK))


def draw_help(frame_bgr: np.ndarray, lines: Sequence[str]) -> None:
    """Draw `lines` (the key help) on a darkened panel at the top-left, in place."""
    if not lines:
        return
    (_, line_height), baseline = cv2.getTextSize("Ag", FONT, HUD_TEXT_SCALE, HUD_TEXT_THICKNESS)
    step_px = line_height + baseline + TEXT_PAD_PX
    width_px = max(cv2.getTextSize(line, FONT, HUD_TEXT_SCALE, HUD_TEXT_THICKNESS)[0][0]
                   for line in lines) + 4 * TEXT_PAD_PX
    top = 2 * step_px  # below the HUD line
    left = TEXT_PAD_PX
    panel = frame_bgr[top:top + step_px * len(lines) + 2 * TEXT_PAD_PX, left:left + width_px]
    if panel.size:
        # Darken only the panel (not the whole frame) in one vectorized pass.
        panel[:] = cv2.convertScaleAbs(panel, alpha=HELP_PANEL_DARKNESS)
    for index, line in enumerate(lines):
        baseline_y = top + TEXT_PAD_PX + line_height + index * step_px
        cv2.putText(frame_bgr, line, (left + 2 * TEXT_PAD_PX, baseline_y), FONT, HUD_TEXT_SCALE,
                    _ink(frame_bgr, WHITE), HUD_TEXT_THICKNESS, cv2.LINE_AA)


def debug_view(frame_bgr: np.ndarray, result: FrameResult,
               patch_labels: Sequence[int | str] | None = None) -> np.ndarray:
    """A new BGR image the frame's size: the ink mask with digit boxes, and the patches below.

    `patch_labels` name each patch; by default the digits' labels when there is one digit per
    patch (patches[i] belongs to digits[i]), otherwise "?".
    """
    height, width = frame_bgr.shape[:2]
    view = _mask_background(result.mask, height, width)
    for digit in result.digits:
        x, y, w, h = digit.box
        colour = confidence_colour(digit.confidence)
        cv2.rectangle(view, (x, y), (x + w - 1, y + h - 1), colour, 1)
        cv2.putText(view, str(digit.label), (x, y - 2), FONT, DIGIT_TEXT_SCALE, colour,
                    DIGIT_TEXT_THICKNESS, cv2.LINE_AA)
    patches = result.patches
    if patches is not None and len(patches):
        if patch_labels is None:
            patch_labels = ([d.label for d in result.digits]
                            if len(result.digits) == len(patches) else ["?"] * len(patches))
        _draw_patch_strip(view, patches, patch_labels)
    return view


def _ink(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """`colour` for a BGR frame; its gray level for a gray one (cv2 would take only blue)."""
    if frame.ndim == 3:
        return colour
    level = round(0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2])
    return (level, level, level)


def _draw_number_text(frame: np.ndarray, text: str, box: BoxXYWH,
                      colour: tuple[int, int, int]) -> None:
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, NUMBER_TEXT_SCALE,
                                                 NUMBER_TEXT_THICKNESS)
    label_h = text_h + baseline + 2 * TEXT_PAD_PX
    x, y = box[0], box[1] - label_h - 1
    if y < 0:  # no room above: put it just below the number instead
        y = box[1] + box[3] + 1
    _draw_label(frame, text, (x, y), NUMBER_TEXT_SCALE, NUMBER_TEXT_THICKNESS,
                _ink(frame, BLACK), _ink(frame, colour), size=(text_w, text_h, baseline))


def _draw_label(frame: np.ndarray, text: str, top_left: tuple[int, int], scale: float,
                thickness: int, text_colour: tuple[int, int, int],
                fill_colour: tuple[int, int, int],
                size: tuple[int, int, int] | None = None) -> None:
    """Text on a filled rectangle whose top-left corner is `top_left`."""
    if size is None:
        (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    else:
        text_w, text_h, baseline = size
    x, y = top_left
    cv2.rectangle(frame, (x, y), (x + text_w + 2 * TEXT_PAD_PX, y + text_h + baseline
                                  + 2 * TEXT_PAD_PX), fill_colour, cv2.FILLED)
    cv2.putText(frame, text, (x + TEXT_PAD_PX, y + TEXT_PAD_PX + text_h), FONT, scale,
                text_colour, thickness, cv2.LINE_AA)


def _mask_background(mask: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """The ink mask as a tinted BGR image of (height, width); black when there is no mask."""
    if mask is None or mask.size == 0:
        return np.zeros((height, width, 3), np.uint8)
    mask_2d = (mask if mask.ndim == 2 else mask[..., 0]).astype(np.uint8, copy=False)
    if mask_2d.shape != (height, width):
        mask_2d = cv2.resize(mask_2d, (width, height), interpolation=cv2.INTER_NEAREST)
    # A lookup table colours every non-zero value (0/1 and 0/255 masks alike) in one cv2 pass,
    # several times faster than numpy broadcasting on a full frame.
    return cv2.LUT(cv2.cvtColor(mask_2d, cv2.COLOR_GRAY2BGR), _mask_lut())


@cache
def _mask_lut() -> np.ndarray:
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[1:, 0] = DEBUG_INK_BGR
    return lut


def _draw_patch_strip(view: np.ndarray, patches: np.ndarray,
                      labels: Sequence[int | str]) -> None:
    """Tile the patches, scaled up, in rows along the bottom of `view`, each labelled."""
    height, width = view.shape[:2]
    # Scale down to 1x on narrow frames rather than show only a few patches.
    scale = DEBUG_PATCH_SCALE if width >= 8 * DEBUG_PATCH_SCALE * PATCH_SIDE_PX else 1
    side_px = PATCH_SIDE_PX * scale
    cell_w, cell_h = side_px + DEBUG_PATCH_GAP_PX, side_px + DEBUG_LABEL_HEIGHT_PX
    per_row = width // cell_w
    max_rows = int(height * DEBUG_MAX_STRIP_SHARE) // cell_h
    if per_row == 0 or max_rows == 0:
        return  # frame too small to show even one patch
    shown = min(len(patches), per_row * max_rows)
    rows = -(-shown // per_row)
    strip_top = height - rows * cell_h
    view[strip_top:] = 0
    # Scale all shown patches in one go: (N, 28, 28) -> (N, side, side) uint8.
    tiles = np.clip(patches[:shown], 0.0, 1.0) * 255
    tiles = tiles.astype(np.uint8).repeat(scale, axis=1).repeat(scale, axis=2)
    for index in range(shown):
        row, column = divmod(index, per_row)
        x = column * cell_w
        y = strip_top + row * cell_h
        view[y:y + side_px, x:x + side_px] = tiles[index][..., None]
        cv2.putText(view, str(labels[index]) if index < len(labels) else "?",
                    (x + side_px // 2 - 4, y + side_px + DEBUG_LABEL_HEIGHT_PX - 3), FONT,
                    DIGIT_TEXT_SCALE, WHITE, DIGIT_TEXT_THICKNESS, cv2.LINE_AA)
    if shown < len(patches):
        cv2.putText(view, f"+{len(patches) - shown}", (width - 40, strip_top + 14), FONT,
                    DIGIT_TEXT_SCALE, YELLOW, DIGIT_TEXT_THICKNESS, cv2.LINE_AA)
