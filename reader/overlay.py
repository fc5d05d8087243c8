"""Draw what the reader found onto frames: boxes, number labels, a HUD, banners, help, debug view.

Frames are drawn on in place. Accepted: uint8 BGR (H, W, 3), or uint8 gray (H, W), on which
each colour is drawn as its gray level (drawing in place cannot add channels; convert with
cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) first to get colour). Any size works, down to 1x1:
whatever falls outside the frame is clipped. `debug_view` always returns a new BGR image.

Sizes follow the displayed size: a frame larger than VIEW_MAX_WH is shown shrunk to fit it, so
text and lines are drawn `ui_scale(frame)` times thicker and stay as readable on a 4000 px photo
as on a 640x480 webcam frame (in the window and in saved files viewed on a screen alike).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from reader.detections import BoxXYWH, FrameResult

FONT = cv2.FONT_HERSHEY_SIMPLEX
GREEN, YELLOW, RED = (0, 200, 0), (0, 220, 255), (0, 0, 255)  # BGR
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
BANNER_BLUE = (255, 128, 0)  # paused / finished banners: a colour no box uses
HIGH_CONFIDENCE, MID_CONFIDENCE = 0.8, 0.5

# Screen pixels at ui_scale 1 (a frame shown at its own size).
VIEW_MAX_WH = (1280, 800)  # a larger frame is shown shrunk to fit this
DIGIT_BOX_PX = 2
NUMBER_TEXT_SCALE, NUMBER_TEXT_PX = 0.8, 2
CAPTION_TEXT_SCALE, CAPTION_TEXT_PX = 0.45, 1
HUD_TEXT_SCALE, HUD_TEXT_PX = 0.55, 1
TEXT_PAD_PX = 3
LABEL_GAP_PX = 2
HELP_PANEL_DARKNESS = 0.25  # share of the frame left visible behind the help panel
HELP_PANEL_LIFT = 40  # gray added, so the panel shows on a black view (the debug view) too

CAPTIONS = ("unsure", "all", "none")  # which digits get a "label confidence%" caption

PATCH_SIDE_PX = 28
DEBUG_INK_BGR = np.array([150, 140, 110], np.uint8)  # dimmed so the boxes stay readable
DEBUG_MAX_PATCH_ZOOM = 3
DEBUG_PATCH_GAP_PX = 4
DEBUG_MAX_STRIP_SHARE = 0.3  # the patch strip takes at most this share of the height


def ui_scale(shape: tuple[int, ...]) -> float:
    """Frame pixels per screen pixel when a frame of this shape is shown fit to VIEW_MAX_WH."""
    height, width = shape[:2]
    return max(1.0, width / VIEW_MAX_WH[0], height / VIEW_MAX_WH[1])


@dataclass(frozen=True, slots=True)
class _Style:
    """Pen sizes for one frame size."""

    scale: float

    def px(self, screen_px: float) -> int:
        return max(1, round(screen_px * self.scale))

    def font(self, screen_scale: float) -> float:
        return screen_scale * self.scale


def confidence_colour(confidence: float) -> tuple[int, int, int]:
    """BGR colour for a confidence: green when sure, yellow in between, red when unsure."""
    if confidence >= HIGH_CONFIDENCE:
        return GREEN
    if confidence >= MID_CONFIDENCE:
        return YELLOW
    return RED


def draw_overlay(frame_bgr: np.ndarray, result: FrameResult,
                 hud: dict[str, str] | None = None, *, captions: str = "unsure") -> None:
    """Draw each digit's box, each number's label and (if given) a HUD line, in place.

    Number labels go above their number, or wherever nearby they cover no digit and no other
    label. `captions` chooses which digits also get a small "label confidence%" caption:
    "unsure" (below HIGH_CONFIDENCE), "all" or "none".
    The HUD shows each entry as "key value" (just "value" when the key is ""), joined by " | ",
    e.g. {"FPS": "30.1", "time": "3.2 ms"} -> "FPS 30.1 | time 3.2 ms".
    """
    style = _Style(ui_scale(frame_bgr.shape))
    height, width = frame_bgr.shape[:2]
    box_px = style.px(DIGIT_BOX_PX)
    occupied = []  # (x0, y0, x1, y1) of digits and of labels already placed
    for digit in result.digits:
        x, y, w, h = digit.box
        cv2.rectangle(frame_bgr, (x, y), (x + w - 1, y + h - 1),
                      _ink(frame_bgr, confidence_colour(digit.confidence)), box_px)
        occupied.append((x - box_px, y - box_px, x + w + box_px, y + h + box_px))
    pad, gap = style.px(TEXT_PAD_PX), style.px(LABEL_GAP_PX)
    number_font, number_px = style.font(NUMBER_TEXT_SCALE), style.px(NUMBER_TEXT_PX)
    for number in sorted(result.numbers, key=lambda n: (n.box[1], n.box[0])):
        (text_w, text_h), baseline = cv2.getTextSize(number.text, FONT, number_font, number_px)
        size = (text_w + 2 * pad, text_h + baseline + 2 * pad)
        x, y = _place(size, number.box, gap, occupied, (width, height))
        _draw_label(frame_bgr, number.text, (x, y), number_font, number_px,
                    _ink(frame_bgr, BLACK), _ink(frame_bgr, confidence_colour(number.confidence)),
                    pad, (text_w, text_h, baseline))
        occupied.append((x, y, x + size[0], y + size[1]))
    if captions != "none":
        caption_font, caption_px = style.font(CAPTION_TEXT_SCALE), style.px(CAPTION_TEXT_PX)
        for digit in result.digits:
            if captions == "unsure" and digit.confidence >= HIGH_CONFIDENCE:
                continue
            text = f"{digit.label} {round(100 * digit.confidence)}%"  # "7 62%"
            (text_w, text_h), baseline = cv2.getTextSize(text, FONT, caption_font, caption_px)
            size = (text_w + 2 * pad, text_h + baseline + 2 * pad)
            x, y = _place(size, digit.box, gap, occupied, (width, height), below_first=True)
            _draw_label(frame_bgr, text, (x, y), caption_font, caption_px,
                        _ink(frame_bgr, WHITE), _ink(frame_bgr, BLACK), pad,
                        (text_w, text_h, baseline))
            occupied.append((x, y, x + size[0], y + size[1]))
    if hud:
        draw_hud(frame_bgr, hud)


def draw_hud(frame_bgr: np.ndarray, hud: dict[str, str]) -> None:
    """The HUD line (see draw_overlay) at the top-left, white on black, in place."""
    style = _Style(ui_scale(frame_bgr.shape))
    text = " | ".join(f"{key} {value}" if key else value for key, value in hud.items())
    pad = style.px(TEXT_PAD_PX)
    _draw_label(frame_bgr, text, (pad, pad), style.font(HUD_TEXT_SCALE), style.px(HUD_TEXT_PX),
                _ink(frame_bgr, WHITE), _ink(frame_bgr, BLACK), pad)


def draw_banner(frame_bgr: np.ndarray, text: str) -> None:
    """A state banner ("PAUSED", "finished") at the top-right, white on blue, in place."""
    style = _Style(ui_scale(frame_bgr.shape))
    font, thickness, pad = style.font(NUMBER_TEXT_SCALE), style.px(NUMBER_TEXT_PX), \
        style.px(2 * TEXT_PAD_PX)
    (text_w, _), _ = cv2.getTextSize(text, FONT, font, thickness)
    x = max(0, frame_bgr.shape[1] - text_w - 3 * pad)
    _draw_label(frame_bgr, text, (x, pad), font, thickness, _ink(frame_bgr, WHITE),
                _ink(frame_bgr, BANNER_BLUE), pad)


def draw_help(frame_bgr: np.ndarray, lines: Sequence[str]) -> None:
    """Draw `lines` (the key help) on a dark panel below the HUD line, in place.

    A line "KEYS   what they do" (two or more spaces between) is drawn in two aligned columns.
    """
    if not lines:
        return
    style = _Style(ui_scale(frame_bgr.shape))
    font, thickness, pad = style.font(HUD_TEXT_SCALE), style.px(HUD_TEXT_PX), \
        style.px(TEXT_PAD_PX)
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines]

    def width(text: str) -> int:
        return cv2.getTextSize(text, FONT, font, thickness)[0][0]

    key_w = max((width(row[0]) for row in rows if len(row) == 2), default=0)
    text_x = key_w + 4 * pad if key_w else 0
    (_, line_height), baseline = cv2.getTextSize("Ag", FONT, font, thickness)
    step_px = line_height + baseline + 2 * pad
    width_px = max(text_x + width(row[-1]) if len(row) == 2 else width(row[0])
                   for row in rows) + 6 * pad
    top, left = 2 * step_px, pad  # below the HUD line
    panel = frame_bgr[top:top + step_px * len(rows) + 2 * pad, left:left + width_px]
    if panel.size:
        # Darken only the panel (not the whole frame) in one vectorized pass.
        panel[:] = cv2.convertScaleAbs(panel, alpha=HELP_PANEL_DARKNESS, beta=HELP_PANEL_LIFT)
        cv2.rectangle(panel, (0, 0), (panel.shape[1] - 1, panel.shape[0] - 1),
                      _ink(frame_bgr, (128, 128, 128)), style.px(1))
    white = _ink(frame_bgr, WHITE)
    for index, row in enumerate(rows):
        baseline_y = top + 2 * pad + line_height + index * step_px
        cv2.putText(frame_bgr, row[0], (left + 3 * pad, baseline_y), FONT, font,
                    _ink(frame_bgr, YELLOW) if len(row) == 2 else white, thickness, cv2.LINE_AA)
        if len(row) == 2:
            cv2.putText(frame_bgr, row[1], (left + 3 * pad + text_x, baseline_y), FONT, font,
                        white, thickness, cv2.LINE_AA)


def debug_view(frame_bgr: np.ndarray, result: FrameResult,
               patch_labels: Sequence[int | str] | None = None) -> np.ndarray:
    """A new BGR image the frame's size: the ink mask with digit boxes, the patches below it.

    The mask is shrunk to the space above the patch strip (never covered by it), so the whole
    frame it explains stays in view. `patch_labels` name each patch; by default the digits'
    labels when there is one digit per patch, otherwise "?". The pipeline's stage times are
    shown when the result carries them (`stage_ms`).
    """
    height, width = frame_bgr.shape[:2]
    style = _Style(ui_scale(frame_bgr.shape))
    view = np.zeros((height, width, 3), np.uint8)
    patches = result.patches
    if patches is None:
        patches = np.zeros((0, PATCH_SIDE_PX, PATCH_SIDE_PX), np.float32)
    if patch_labels is None:
        patch_labels = ([d.label for d in result.digits]
                        if len(result.digits) == len(patches) else ["?"] * len(patches))
    layout = _strip_layout(len(patches), width, height, style)
    top_h = height - layout.height_px
    # The mask (and boxes) shrunk into the area above the strip, centred.
    shrink = top_h / height if height else 1.0
    area_w, area_h = max(1, round(width * shrink)), max(1, top_h)
    left = (width - area_w) // 2
    if top_h > 0:
        view[:top_h, left:left + area_w] = _mask_background(result.mask, area_h, area_w)
        font, thickness = style.font(CAPTION_TEXT_SCALE), style.px(CAPTION_TEXT_PX)
        for digit in result.digits:
            x, y, w, h = (round(v * shrink) for v in digit.box)
            colour = confidence_colour(digit.confidence)
            cv2.rectangle(view, (left + x, y), (left + x + w - 1, y + h - 1), colour,
                          style.px(1))
            cv2.putText(view, str(digit.label), (left + x, y - style.px(2)), FONT, font,
                        colour, thickness, cv2.LINE_AA)
    if len(patches):
        _draw_patch_strip(view, patches, patch_labels, layout, style)
    stage_ms = getattr(result, "stage_ms", None)
    if stage_ms:
        text = " | ".join(f"{name} {ms:.1f}" for name, ms in stage_ms.items()) + " ms"
        font, thickness = style.font(CAPTION_TEXT_SCALE), style.px(CAPTION_TEXT_PX)
        (_, text_h), baseline = cv2.getTextSize(text, FONT, font, thickness)
        pad = style.px(TEXT_PAD_PX)
        _draw_label(view, text, (pad, max(0, top_h - text_h - baseline - 3 * pad)), font,
                    thickness, WHITE, BLACK, pad)
    return view


def _ink(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """`colour` for a BGR frame; its gray level for a gray one (cv2 would take only blue)."""
    if frame.ndim == 3:
        return colour
    level = round(0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2])
    return (level, level, level)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0


def _place(size: tuple[int, int], box: BoxXYWH, gap: int, occupied: list,
           frame_wh: tuple[int, int], below_first: bool = False) -> tuple[int, int]:
    """Top-left corner for a label of `size` next to `box`: the first of above, below, right,
    left (below first for captions) that stays in the frame and covers nothing in `occupied`;
    otherwise the one that covers least."""
    label_w, label_h = size
    x, y, w, h = box
    above, below = (x, y - label_h - gap), (x, y + h + gap)
    candidates = [below, above] if below_first else [above, below]
    candidates += [(x + w + gap, y), (x - label_w - gap, y),
                   (x, y - 2 * (label_h + gap)), (x, y + h + label_h + 2 * gap)]
    best, best_cost = None, None
    for cx, cy in candidates:
        inside = 0 <= cx and 0 <= cy and cx + label_w <= frame_wh[0] and \
            cy + label_h <= frame_wh[1]
        cx = min(max(cx, 0), max(0, frame_wh[0] - label_w))
        cy = min(max(cy, 0), max(0, frame_wh[1] - label_h))
        rect = (cx, cy, cx + label_w, cy + label_h)
        cost = sum(_overlap(rect, other) for other in occupied) + (0 if inside else 1)
        if cost == 0:
            return cx, cy
        if best_cost is None or cost < best_cost:
            best, best_cost = (cx, cy), cost
    return best


def _draw_label(frame: np.ndarray, text: str, top_left: tuple[int, int], scale: float,
                thickness: int, text_colour: tuple[int, int, int],
                fill_colour: tuple[int, int, int], pad: int = TEXT_PAD_PX,
                size: tuple[int, int, int] | None = None) -> None:
    """Text on a filled rectangle whose top-left corner is `top_left`."""
    if size is None:
        (text_w, text_h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    else:
        text_w, text_h, baseline = size
    x, y = top_left
    cv2.rectangle(frame, (x, y), (x + text_w + 2 * pad - 1, y + text_h + baseline + 2 * pad - 1),
                  fill_colour, cv2.FILLED)
    cv2.putText(frame, text, (x + pad, y + pad + text_h), FONT, scale, text_colour, thickness,
                cv2.LINE_AA)


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


@dataclass(frozen=True, slots=True)
class _StripLayout:
    zoom: int = 1
    per_row: int = 0
    rows: int = 0
    shown: int = 0
    label_h: int = 0

    @property
    def cell_wh(self) -> tuple[int, int]:
        side = PATCH_SIDE_PX * self.zoom
        return side + DEBUG_PATCH_GAP_PX, side + self.label_h

    @property
    def height_px(self) -> int:
        return self.rows * self.cell_wh[1]


def _strip_layout(count: int, width: int, height: int, style: _Style) -> _StripLayout:
    """The largest patch zoom at which all patches fit in DEBUG_MAX_STRIP_SHARE of the height;
    at zoom 1 as many as fit when not all do."""
    if count == 0:
        return _StripLayout()
    label_h = style.px(16)
    max_h = int(height * DEBUG_MAX_STRIP_SHARE)
    best = None
    for zoom in range(max(1, round(DEBUG_MAX_PATCH_ZOOM * style.scale)), 0, -1):
        probe = _StripLayout(zoom, label_h=label_h)
        cell_w, cell_h = probe.cell_wh
        per_row, max_rows = width // cell_w, max_h // cell_h
        if per_row == 0 or max_rows == 0:
            continue
        rows = -(-count // per_row)
        layout = _StripLayout(zoom, per_row, min(rows, max_rows), min(count, per_row * max_rows),
                              label_h)
        if rows <= max_rows:
            return layout
        best = layout  # the last tried is zoom 1: shows the most
    return best or _StripLayout()


def _patch_caption(label: int | str) -> str:
    """A patch's label; "x" for the model's "not a digit" class (any class past 9)."""
    if isinstance(label, str):
        return label
    return str(int(label)) if int(label) <= 9 else "x"


def _draw_patch_strip(view: np.ndarray, patches: np.ndarray, labels: Sequence[int | str],
                      layout: _StripLayout, style: _Style) -> None:
    """Tile the patches, scaled up, in rows along the bottom of `view`, each labelled."""
    if layout.shown == 0:
        return
    height, width = view.shape[:2]
    side_px = PATCH_SIDE_PX * layout.zoom
    cell_w, cell_h = layout.cell_wh
    strip_top = height - layout.height_px
    font, thickness = style.font(CAPTION_TEXT_SCALE), style.px(CAPTION_TEXT_PX)
    # Scale all shown patches in one go: (N, 28, 28) -> (N, side, side) uint8.
    tiles = np.clip(patches[:layout.shown], 0.0, 1.0) * 255
    tiles = tiles.astype(np.uint8).repeat(layout.zoom, axis=1).repeat(layout.zoom, axis=2)
    for index in range(layout.shown):
        row, column = divmod(index, layout.per_row)
        x, y = column * cell_w, strip_top + row * cell_h
        view[y:y + side_px, x:x + side_px] = tiles[index][..., None]
        text = _patch_caption(labels[index]) if index < len(labels) else "?"
        (text_w, _), _ = cv2.getTextSize(text, FONT, font, thickness)
        cv2.putText(view, text, (x + (side_px - text_w) // 2, y + side_px + layout.label_h
                                 - style.px(3)), FONT, font, WHITE, thickness, cv2.LINE_AA)
    if layout.shown < len(patches):
        text = f"+{len(patches) - layout.shown}"
        (text_w, _), _ = cv2.getTextSize(text, FONT, font, thickness)
        cv2.putText(view, text, (width - text_w - style.px(4), strip_top - style.px(4)), FONT,
                    font, YELLOW, thickness, cv2.LINE_AA)
