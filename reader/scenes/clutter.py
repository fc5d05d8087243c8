"""What lies around and beside the numbers in the harder scene families.

    desk      - the sheet lies on a desk (wood grain or fabric, drawn procedurally); the
                sheet's edge and the desk are in view
    printed   - printed words and letters beside the numbers (OpenCV Hershey fonts only)
    faint     - a thin, faint pen
    blur      - heavy motion blur under a deep shadow
    touching  - neighbouring digits of a number touch

None of it moves a digit's truth box: desk and text stay clear of every digit's ink, and blur
is symmetric about the digit (the box is the ink at mid-exposure).
"""

from __future__ import annotations

import string

import cv2
import numpy as np

from reader.scenes.glyphs import Stroke
from reader.scenes.layout import PlacedNumber
from reader.scenes.paper import InkStyle, Lighting

FAMILIES = ("plain", "desk", "printed", "faint", "blur", "touching")

# BGR base colours of desks: light oak, walnut, dark wood; fabric and felt.
WOOD_COLOURS_BGR = ((120.0, 165.0, 205.0), (60.0, 95.0, 140.0), (38.0, 52.0, 75.0))
FABRIC_COLOURS_BGR = ((110.0, 70.0, 40.0), (70.0, 75.0, 80.0), (60.0, 100.0, 60.0),
                      (150.0, 150.0, 155.0), (45.0, 45.0, 120.0))
# Letters that are also digits in print (O/0, I/l/1) are left out: a reader cannot be faulted
# for reading them as digits.
LETTERS = "".join(c for c in string.ascii_letters if c not in "OoIlDQZzSsBbgq")
HERSHEY_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
                 cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN,
                 cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
PRINT_COLOURS_BGR = ((30.0, 30.0, 30.0), (60.0, 60.0, 60.0), (120.0, 50.0, 25.0),
                     (40.0, 40.0, 150.0))
TEXT_CLEARANCE = 0.35   # printed text keeps this many digit heights of paper from every digit


# ---------------------------------------------------------------- desk


def make_desk(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A desk surface as float32 BGR (height, width, 3): wood grain or woven fabric."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = xs * np.float32(np.cos(angle)) + ys * np.float32(np.sin(angle))
    v = -xs * np.float32(np.sin(angle)) + ys * np.float32(np.cos(angle))
    if rng.random() < 0.6:
        base = np.array(WOOD_COLOURS_BGR[rng.integers(len(WOOD_COLOURS_BGR))], np.float32)
        # Growth rings: bands across v, bent by smooth noise; fine dark streaks along the grain.
        warp = _smooth(rng, height, width, 160) * np.float32(rng.uniform(4, 16))
        period = rng.uniform(8, 30)
        rings = np.sin((v + warp) * np.float32(2 * np.pi / period))
        fine = rng.standard_normal(int(np.hypot(height, width)) * 2 + 8).astype(np.float32)
        fine = cv2.GaussianBlur(fine[None, :], (0, 0), 0.8).ravel()
        index = np.clip((v + warp * 0.5 + fine.size / 2).astype(np.int32), 0, fine.size - 1)
        streaks = fine[index] * _smooth(rng, height, width, 40)
        shade = 1.0 + 0.10 * rings + 0.12 * streaks
        # A few dark pores and knots: ink-like marks a reader must not take for digits.
        dark = np.clip(fine[index] - 2.2, 0, None) * (_smooth(rng, height, width, 60) > 0.8)
        shade -= np.float32(rng.uniform(0.2, 0.5)) * dark
    else:
        base = np.array(FABRIC_COLOURS_BGR[rng.integers(len(FABRIC_COLOURS_BGR))], np.float32)
        pitch = rng.uniform(3.0, 9.0)
        weave = (np.sin(u * np.float32(2 * np.pi / pitch))
                 * np.sin(v * np.float32(2 * np.pi / pitch)))
        threads = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32),
                                   (0, 0), 0.7)
        shade = 1.0 + 0.12 * weave + 0.06 * threads + 0.05 * _smooth(rng, height, width, 50)
    desk = base[None, None, :] * shade[..., None]
    return np.clip(desk, 0, 255).astype(np.float32)


def sheet_quad(rng: np.random.Generator, canvas_wh: tuple[int, int],
               view_rect: tuple[float, float, float, float]) -> np.ndarray:
    """Corners (tl, tr, br, bl) of a sheet on the canvas with one or two edges inside the view.

    `view_rect` (x0, y0, x1, y1) is the part of the canvas the camera sees. The other edges lie
    far outside it. The sheet is turned a few degrees.
    """
    del canvas_wh  # the sheet is placed by the view alone; kept for the callers' clarity
    x0, y0, x1, y1 = view_rect
    view_w, view_h = x1 - x0, y1 - y0
    # Left, top, right, bottom: how far the edge lies inside the view (negative: outside).
    inside = np.full(4, -0.6)
    sides = rng.choice(4, size=int(rng.integers(1, 3)), replace=False)
    inside[sides] = rng.uniform(0.06, 0.28, sides.size)
    left = x0 + inside[0] * view_w
    top = y0 + inside[1] * view_h
    right = x1 - inside[2] * view_w
    bottom = y1 - inside[3] * view_h
    quad = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], np.float64)
    a = np.deg2rad(rng.uniform(-6, 6))
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (quad - centre) @ turn.T + centre


def quad_inner_rect(quad: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """An axis-aligned rectangle inside a slightly turned quad (tl, tr, br, bl), `margin` in."""
    tl, tr, br, bl = quad
    return (max(tl[0], bl[0]) + margin, max(tl[1], tr[1]) + margin,
            min(tr[0], br[0]) - margin, min(bl[1], br[1]) - margin)


def lay_sheet_on_desk(rng: np.random.Generator, page: np.ndarray, quad: np.ndarray) -> None:
    """Replace everything of `page` outside the sheet `quad` with desk, in place.

    The sheet's edge is anti-aliased and casts a soft shadow on the desk.
    """
    height, width = page.shape[:2]
    desk = make_desk(rng, height, width)
    shift = 4  # sub-pixel corners
    sheet_u8 = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(sheet_u8, np.round(quad * (1 << shift)).astype(np.int32), 255,
                       cv2.LINE_AA, shift)
    sheet = sheet_u8.astype(np.float32) * np.float32(1 / 255)
    offset = rng.uniform(-4, 4, 2)
    shadow = cv2.warpAffine(sheet, np.float32([[1, 0, offset[0]], [0, 1, offset[1]]]),
                            (width, height))
    shadow = cv2.GaussianBlur(shadow, (0, 0), float(rng.uniform(2, 6)))
    desk *= (1.0 - np.float32(rng.uniform(0.2, 0.5)) * shadow)[..., None]
    page *= sheet[..., None]
    page += desk * (1.0 - sheet)[..., None]


# ---------------------------------------------------------------- printed text


def draw_printed_text(rng: np.random.Generator, page: np.ndarray, numbers: list[PlacedNumber],
                      area_xyxy: tuple[float, float, float, float], count: int) -> int:
    """Print up to `count` words and letters in `area_xyxy` of `page`, clear of every digit.

    About half sit on a number's line just before or after it ("No 42", "42 kg"), the others
    anywhere free. Returns how many were printed.
    """
    boxes = np.array([d.box_xyxy for n in numbers for d in n.digits], np.float64)
    heights = boxes[:, 3] - boxes[:, 1] if len(boxes) else np.array([30.0])
    digit_h = float(np.median(heights))
    clearance = np.concatenate([boxes[:, :2] - TEXT_CLEARANCE * heights[:, None],
                                boxes[:, 2:] + TEXT_CLEARANCE * heights[:, None]], axis=1) \
        if len(boxes) else np.zeros((0, 4))
    coverage = np.zeros(page.shape[:2], np.uint8)
    taken: list[tuple[float, float, float, float]] = []
    colour = np.array(PRINT_COLOURS_BGR[rng.integers(len(PRINT_COLOURS_BGR))], np.float32)
    printed = 0
    for _ in range(count * 6):
        if printed >= count:
            break
        font = int(HERSHEY_FONTS[rng.integers(len(HERSHEY_FONTS))])
        if rng.random() < 0.3:
            font |= cv2.FONT_ITALIC
        length = 1 if rng.random() < 0.35 else int(rng.integers(2, 8))
        text = "".join(LETTERS[i] for i in rng.integers(len(LETTERS), size=length))
        cap_px = digit_h * rng.uniform(0.5, 1.3)
        scale = cap_px / cv2.getTextSize("H", font, 1.0, 1)[0][1]
        thickness = max(1, round(cap_px * rng.uniform(0.04, 0.12)))
        (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
        if numbers and rng.random() < 0.6:
            number = numbers[rng.integers(len(numbers))]
            nb = np.array([d.box_xyxy for d in number.digits])
            gap = digit_h * rng.uniform(0.5, 1.0)
            x = nb[:, 2].max() + gap if rng.random() < 0.5 else nb[:, 0].min() - gap - tw
            y = nb[:, 3].max() - rng.uniform(0, 0.1) * digit_h  # on the number's baseline
        else:
            x = rng.uniform(area_xyxy[0], area_xyxy[2] - tw)
            y = rng.uniform(area_xyxy[1] + th, area_xyxy[3] - base)
        pad = thickness + 2
        box = (x - pad, y - th - pad, x + tw + pad, y + base + pad)
        if (box[0] < area_xyxy[0] or box[1] < area_xyxy[1] or box[2] > area_xyxy[2]
                or box[3] > area_xyxy[3]):
            continue
        if _hits(box, clearance) or _hits(box, np.array(taken).reshape(-1, 4)):
            continue
        cv2.putText(coverage, text, (round(x), round(y)), font, scale, 255, thickness,
                    cv2.LINE_AA)
        taken.append(box)
        printed += 1
    alpha = coverage.astype(np.float32) * np.float32(rng.uniform(0.8, 0.97) / 255)
    page *= 1.0 - alpha[..., None]
    page += alpha[..., None] * colour
    return printed


def _hits(box: tuple[float, float, float, float], others: np.ndarray) -> bool:
    if len(others) == 0:
        return False
    return bool(((box[0] < others[:, 2]) & (others[:, 0] < box[2])
                 & (box[1] < others[:, 3]) & (others[:, 1] < box[3])).any())


# ---------------------------------------------------------------- pens, blur and shadow


def faint_stroke(rng: np.random.Generator) -> Stroke:
    """A thin pen line (1-2.5 % of the digit's height, at least one pixel)."""
    return Stroke(width_frac=float(rng.uniform(0.012, 0.025)), min_px=1.0)


def faint_ink(rng: np.random.Generator) -> InkStyle:
    """A faint pen: light ink, often a little grainy (a ballpoint running dry, hard pencil)."""
    colour = (float(rng.uniform(80, 140)), float(rng.uniform(60, 120)),
              float(rng.uniform(40, 110)))
    return InkStyle(colour, opacity=float(rng.uniform(0.55, 0.8)),
                    grain=float(rng.uniform(0.0, 0.3)))


def deep_shadow(lighting: Lighting, rng: np.random.Generator) -> Lighting:
    """`lighting` with a deep shadow over a good part of the frame (digits included)."""
    import dataclasses

    angle = rng.uniform(0, 2 * np.pi)
    return dataclasses.replace(lighting, shadow_depth=float(rng.uniform(0.45, 0.7)),
                               shadow_normal=(float(np.cos(angle)), float(np.sin(angle))),
                               shadow_offset=float(rng.uniform(0.3, 0.6)),
                               shadow_softness=float(rng.uniform(0.03, 0.15)))


def motion_blur(rng: np.random.Generator, frame: np.ndarray, length_range=(6.0, 16.0)
                ) -> np.ndarray:
    """Blur a float frame along a random straight motion, symmetric about each point."""
    length = float(rng.uniform(*length_range))
    angle = rng.uniform(0, np.pi)
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    cv2.line(kernel, (round(c * 16 - dx * 16), round(c * 16 - dy * 16)),
             (round(c * 16 + dx * 16), round(c * 16 + dy * 16)), 1.0, 1,
             cv2.LINE_AA, 4)
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _smooth(rng: np.random.Generator, height: int, width: int, cell_px: int) -> np.ndarray:
    small = rng.standard_normal((max(2, height // cell_px + 2), max(2, width // cell_px + 2)),
                                dtype=np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
