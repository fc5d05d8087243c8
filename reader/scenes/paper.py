"""Paper (colour, texture, ruling), ink on it, and the light that falls on the photographed page."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reader.scenes.layout import PlacedNumber

# BGR paper colours: white, off-white, beige (warm), grey recycled paper.
PAPER_COLOURS_BGR = {
    "white": (246.0, 247.0, 248.0),
    "off-white": (228.0, 238.0, 242.0),
    "beige": (196.0, 222.0, 236.0),
    "grey": (200.0, 202.0, 204.0),
}
RULE_COLOURS_BGR = {"blue": (222.0, 188.0, 150.0), "grey": (185.0, 185.0, 185.0)}
# Ink colours BGR: black pen, blue ballpoint, graphite pencil.
INK_COLOURS_BGR = {"black": (28.0, 26.0, 30.0), "blue": (125.0, 45.0, 22.0),
                   "pencil": (85.0, 85.0, 92.0)}


@dataclass(frozen=True)
class PaperStyle:
    """A sheet of paper: colour and optional ruling (pitch and width in page pixels)."""

    colour_bgr: tuple[float, float, float]
    ruling: str = "none"          # "none", "lines" or "squares"
    rule_pitch_px: float = 30.0
    rule_width_px: float = 1.2
    rule_colour_bgr: tuple[float, float, float] = RULE_COLOURS_BGR["blue"]
    rule_strength: float = 0.7    # how much of the rule colour replaces the paper


@dataclass(frozen=True)
class InkStyle:
    """What the digits are written with."""

    colour_bgr: tuple[float, float, float]
    opacity: float = 0.95
    grain: float = 0.0            # pencil: fraction of coverage lost to paper grain


@dataclass(frozen=True)
class Lighting:
    """Smooth multiplicative light over the frame: exposure, gradient, vignette, soft shadow."""

    exposure: float = 1.0
    gradient_xy: tuple[float, float] = (0.0, 0.0)   # gain change across the frame
    vignette: float = 0.0                            # gain lost in the corners
    shadow_depth: float = 0.0                        # gain lost inside the shadow
    shadow_normal: tuple[float, float] = (1.0, 0.0)  # unit vector pointing into the shadow
    shadow_offset: float = 0.5                       # edge position, fraction of the diagonal
    shadow_softness: float = 0.1                     # edge width, fraction of the diagonal
    white_balance_bgr: tuple[float, float, float] = (1.0, 1.0, 1.0)


def sample_paper_style(rng: np.random.Generator, ruled: bool | None = None) -> PaperStyle:
    """A random paper; `ruled` forces ruling on or off (None: about one sheet in three)."""
    name = rng.choice(list(PAPER_COLOURS_BGR), p=[0.4, 0.25, 0.15, 0.2])
    tint = rng.uniform(-6, 6, 3)
    colour = tuple(float(c) for c in np.clip(np.array(PAPER_COLOURS_BGR[name]) + tint, 0, 255))
    if ruled is None:
        ruled = rng.random() < 0.35
    if not ruled:
        return PaperStyle(colour)
    return PaperStyle(colour, ruling="squares" if rng.random() < 0.4 else "lines",
                      rule_pitch_px=float(rng.uniform(18, 42)),
                      rule_width_px=float(rng.uniform(0.8, 2.0)),
                      rule_colour_bgr=RULE_COLOURS_BGR["blue" if rng.random() < 0.7 else "grey"],
                      rule_strength=float(rng.uniform(0.45, 0.9)))


def sample_ink_style(rng: np.random.Generator) -> InkStyle:
    """A random pen: black or blue ink, or a pencil (lighter, grainy)."""
    kind = rng.choice(list(INK_COLOURS_BGR), p=[0.45, 0.35, 0.2])
    colour = tuple(float(c) for c in np.clip(np.array(INK_COLOURS_BGR[kind])
                                             + rng.uniform(-10, 10, 3), 0, 255))
    if kind == "pencil":
        return InkStyle(colour, opacity=float(rng.uniform(0.65, 0.85)),
                        grain=float(rng.uniform(0.1, 0.3)))
    return InkStyle(colour, opacity=float(rng.uniform(0.88, 1.0)))


def sample_lighting(rng: np.random.Generator, dim: bool | None = None) -> Lighting:
    """Random indoor light: uneven, darker corners, often a soft shadow, sometimes dim."""
    if dim is None:
        dim = rng.random() < 0.25
    angle = rng.uniform(0, 2 * np.pi)
    spread = rng.uniform(0.05, 0.35)
    shadow_angle = rng.uniform(0, 2 * np.pi)
    return Lighting(
        exposure=float(rng.uniform(0.5, 0.75) if dim else rng.uniform(0.85, 1.05)),
        gradient_xy=(float(spread * np.cos(angle)), float(spread * np.sin(angle))),
        vignette=float(rng.uniform(0.05, 0.35)),
        shadow_depth=float(rng.uniform(0.15, 0.4)) if rng.random() < 0.5 else 0.0,
        shadow_normal=(float(np.cos(shadow_angle)), float(np.sin(shadow_angle))),
        shadow_offset=float(rng.uniform(0.15, 0.45)),
        shadow_softness=float(rng.uniform(0.03, 0.2)),
        white_balance_bgr=tuple(float(v) for v in rng.uniform(0.94, 1.06, 3)),
    )


def make_paper(rng: np.random.Generator, height: int, width: int,
               style: PaperStyle) -> np.ndarray:
    """A sheet of paper as float32 BGR (height, width, 3) in 0..255, with mottling and rules."""
    mottle = _smooth_noise(rng, height, width, cell_px=60) * 4.0
    mottle += _smooth_noise(rng, height, width, cell_px=6) * 1.5
    page = np.empty((height, width, 3), np.float32)
    page[:] = np.array(style.colour_bgr, np.float32)
    page += mottle[..., None]
    if style.ruling != "none":
        _draw_rules(rng, page, style)
    return page


def draw_ink(rng: np.random.Generator, page: np.ndarray, numbers: list[PlacedNumber],
             ink: InkStyle) -> None:
    """Composite every digit's coverage onto `page` in place, alpha-blending the ink colour."""
    colour = np.array(ink.colour_bgr, np.float32)
    for number in numbers:
        for digit in number.digits:
            h, w = digit.alpha.shape
            alpha = digit.alpha * np.float32(ink.opacity * rng.uniform(0.93, 1.0))
            if ink.grain > 0:
                grain = rng.random((h, w), dtype=np.float32)
                alpha = alpha * (1.0 - ink.grain * cv2.GaussianBlur(grain, (3, 3), 0) * 1.6)
                alpha = np.clip(alpha, 0.0, 1.0)
            roi = page[digit.y:digit.y + h, digit.x:digit.x + w]
            roi *= 1.0 - alpha[..., None]
            roi += alpha[..., None] * colour


def light_gain(lighting: Lighting, height: int, width: int, shadow_shift: float = 0.0,
               scale: float = 1.0) -> np.ndarray:
    """Per-pixel gain (height, width, 1) float32 for `lighting`, computed coarse then upsized.

    White balance is not included (multiply by `lighting.white_balance_bgr` separately).
    `shadow_shift` moves the shadow edge along its normal (fraction of the diagonal), so a
    video's shadow can drift; `scale` multiplies everything (a video's flicker).
    """
    small_w, small_h = max(8, width // 8), max(8, height // 8)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    u = (xs + 0.5) / small_w - 0.5     # -0.5..0.5 across the frame
    v = (ys + 0.5) / small_h - 0.5
    gain = 1.0 + lighting.gradient_xy[0] * u * 2 + lighting.gradient_xy[1] * v * 2
    gain *= 1.0 - lighting.vignette * (u * u + v * v) * 2.0
    if lighting.shadow_depth > 0:
        nx, ny = lighting.shadow_normal
        aspect = width / height
        along = (u * aspect * nx + v * ny) / np.hypot(aspect, 1.0)
        edge = along - (0.5 - lighting.shadow_offset - shadow_shift)
        inside = 1.0 / (1.0 + np.exp(-edge / max(lighting.shadow_softness, 1e-3) * 4.0))
        gain *= 1.0 - lighting.shadow_depth * inside
    gain = cv2.resize((gain * (lighting.exposure * scale)).astype(np.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    return gain[..., None]


def apply_lighting(frame: np.ndarray, lighting: Lighting, shadow_shift: float = 0.0,
                   scale: float = 1.0) -> None:
    """Light a float32 BGR frame in place: gain map, then white balance."""
    height, width = frame.shape[:2]
    frame *= light_gain(lighting, height, width, shadow_shift, scale)
    frame *= np.array(lighting.white_balance_bgr, np.float32)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell_px: int) -> np.ndarray:
    """Zero-mean noise, smooth at `cell_px` scale, as float32 (height, width), std about 1."""
    small = rng.standard_normal((max(2, height // cell_px + 2), max(2, width // cell_px + 2)),
                                dtype=np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _draw_rules(rng: np.random.Generator, page: np.ndarray, style: PaperStyle) -> None:
    """Print horizontal rules (and vertical ones for squared paper) as anti-aliased lines."""
    height, width = page.shape[:2]
    coverage = np.zeros((height, width), np.float32)
    half = style.rule_width_px / 2
    offset = rng.uniform(0, style.rule_pitch_px)
    # Coverage of a line of width w centred at c, for a pixel centred at p: clip(w/2+0.5-|p-c|).
    ys = np.arange(height, dtype=np.float32)
    phase = np.mod(ys - offset, style.rule_pitch_px)
    distance = np.minimum(phase, style.rule_pitch_px - phase)
    coverage = np.maximum(coverage, np.clip(half + 0.5 - distance, 0, 1)[:, None])
    if style.ruling == "squares":
        xs = np.arange(width, dtype=np.float32)
        phase = np.mod(xs - rng.uniform(0, style.rule_pitch_px), style.rule_pitch_px)
        distance = np.minimum(phase, style.rule_pitch_px - phase)
        coverage = np.maximum(coverage, np.clip(half + 0.5 - distance, 0, 1)[None, :])
    coverage *= style.rule_strength
    page *= 1.0 - coverage[..., None]
    page += coverage[..., None] * np.array(style.rule_colour_bgr, np.float32)
