"""The camera: page-to-frame homographies (still and moving), blur, sensor noise, JPEG."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np


def view_homography(center_xy: tuple[float, float], zoom: float, angle_deg: float,
                    tilt_xy: tuple[float, float], frame_size: tuple[int, int]) -> np.ndarray:
    """Page-to-frame homography (3x3 float64): `center_xy` on the page lands mid-frame.

    `zoom` is frame pixels per page pixel, `angle_deg` turns the page anticlockwise in the
    frame, and `tilt_xy` is the perspective foreshortening: 0.05 makes the right (or bottom)
    edge about 5% smaller and the left (top) edge 5% larger.
    """
    width, height = frame_size
    cx, cy = center_xy
    to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    a = np.deg2rad(angle_deg)
    rotate = np.array([[np.cos(a) * zoom, np.sin(a) * zoom, 0],
                       [-np.sin(a) * zoom, np.cos(a) * zoom, 0], [0, 0, 1]], np.float64)
    tilt = np.array([[1, 0, 0], [0, 1, 0],
                     [tilt_xy[0] / (width / 2), tilt_xy[1] / (height / 2), 1]], np.float64)
    to_frame = np.array([[1, 0, width / 2], [0, 1, height / 2], [0, 0, 1]], np.float64)
    return to_frame @ tilt @ rotate @ to_origin


def translation(dx: float, dy: float) -> np.ndarray:
    """3x3 homography moving points by (dx, dy)."""
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def frame_quad_on_page(page_to_frame: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The frame's corners (tl, tr, br, bl) in page coordinates, (4, 2) float64."""
    width, height = frame_size
    corners = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5],
                        [-0.5, height - 0.5]], np.float64)
    return apply_homography(np.linalg.inv(page_to_frame), corners)


def apply_homography(homography: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    """Map (N, 2) points through a 3x3 homography."""
    mapped = points_xy @ homography[:, :2].T + homography[:, 2]
    return mapped[:, :2] / mapped[:, 2:3]


def inscribed_rect(quad: np.ndarray) -> tuple[float, float, float, float]:
    """An axis-aligned rectangle (x0, y0, x1, y1) inside a convex quad given as tl, tr, br, bl."""
    tl, tr, br, bl = quad
    return (max(tl[0], bl[0]), max(tl[1], tr[1]), min(tr[0], br[0]), min(bl[1], br[1]))


@dataclass(frozen=True)
class Wave:
    """A smooth signal in [-1, 1]: a weighted sum of sinusoids (weights sum to 1)."""

    freqs_hz: tuple[float, ...]
    phases: tuple[float, ...]
    weights: tuple[float, ...]

    @classmethod
    def random(cls, rng: np.random.Generator, freq_range_hz: tuple[float, float],
               terms: int = 3) -> Wave:
        """A random wave with `terms` sinusoids in the frequency range."""
        weights = rng.uniform(0.2, 1.0, terms)
        return cls(tuple(rng.uniform(*freq_range_hz, terms)), tuple(rng.uniform(0, 2 * np.pi, terms)),
                   tuple(weights / weights.sum()))

    def __call__(self, t: float) -> float:
        return float(sum(w * np.sin(2 * np.pi * f * t + p)
                         for f, p, w in zip(self.freqs_hz, self.phases, self.weights)))


@dataclass(frozen=True)
class CameraPath:
    """A hand-held camera over a page: slow pan, zoom, turn and tilt, plus fast shake.

    Every quantity is a smooth function of time, so sub-frame times give the in-between views
    that motion blur averages.
    """

    frame_size: tuple[int, int]
    center_xy: tuple[float, float]      # page point at mid-frame, on average
    pan_px: tuple[float, float]         # page pixels the centre swings either way
    pan: tuple[Wave, Wave]
    zoom: float
    zoom_swing: float                   # fraction of zoom
    zoom_wave: Wave
    angle_deg: float
    angle_swing_deg: float
    angle_wave: Wave
    tilt_xy: tuple[float, float]
    tilt_swing: float
    tilt_waves: tuple[Wave, Wave]
    shake_px: float                     # frame pixels of hand shake
    shake: tuple[Wave, Wave]

    def homography(self, t: float) -> np.ndarray:
        """Page-to-frame homography at time `t` seconds."""
        center = (self.center_xy[0] + self.pan_px[0] * self.pan[0](t),
                  self.center_xy[1] + self.pan_px[1] * self.pan[1](t))
        zoom = self.zoom * (1 + self.zoom_swing * self.zoom_wave(t))
        angle = self.angle_deg + self.angle_swing_deg * self.angle_wave(t)
        tilt = (self.tilt_xy[0] + self.tilt_swing * self.tilt_waves[0](t),
                self.tilt_xy[1] + self.tilt_swing * self.tilt_waves[1](t))
        view = view_homography(center, zoom, angle, tilt, self.frame_size)
        return translation(self.shake_px * self.shake[0](t), self.shake_px * self.shake[1](t)) @ view

    def moved(self, dx: float, dy: float) -> CameraPath:
        """The same path over a page whose origin moved by (-dx, -dy)."""
        return dataclasses.replace(self, center_xy=(self.center_xy[0] + dx, self.center_xy[1] + dy))


def sample_camera_path(rng: np.random.Generator, frame_size: tuple[int, int],
                       duration_s: float, zoom_range: tuple[float, float] = (0.9, 1.25),
                       shake_px_range: tuple[float, float] = (1.0, 5.0)) -> CameraPath:
    """A random hand-held path centred on page point (0, 0) lasting about `duration_s`."""
    width, height = frame_size
    zoom = float(rng.uniform(*zoom_range))
    # About one sweep per clip; short clips move as slowly as a 6 s one would.
    duration_s = max(duration_s, 6.0)
    slow = (0.3 / duration_s, 1.0 / duration_s)
    return CameraPath(
        frame_size=frame_size,
        center_xy=(0.0, 0.0),
        pan_px=(float(rng.uniform(0.25, 0.6) * width / zoom),
                float(rng.uniform(0.15, 0.45) * height / zoom)),
        pan=(Wave.random(rng, slow), Wave.random(rng, slow)),
        zoom=zoom, zoom_swing=float(rng.uniform(0.03, 0.15)), zoom_wave=Wave.random(rng, slow),
        angle_deg=float(rng.uniform(-3, 3)), angle_swing_deg=float(rng.uniform(0.5, 3)),
        angle_wave=Wave.random(rng, slow),
        tilt_xy=(float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.05, 0.05))),
        tilt_swing=float(rng.uniform(0.0, 0.04)),
        tilt_waves=(Wave.random(rng, slow), Wave.random(rng, slow)),
        shake_px=float(rng.uniform(*shake_px_range)),
        shake=(Wave.random(rng, (1.5, 7.0), terms=4), Wave.random(rng, (1.5, 7.0), terms=4)),
    )


def warp_page(page: np.ndarray, page_to_frame: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The frame the camera sees of `page` (same dtype as the page)."""
    # Replicate, not black: a rounding pixel at the page edge must not look like ink.
    return cv2.warpPerspective(page, page_to_frame, frame_size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def corner_motion_px(before: np.ndarray, after: np.ndarray, frame_size: tuple[int, int]) -> float:
    """How far (frame pixels) the frame corners' page content moves between two homographies."""
    width, height = frame_size
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    page_points = apply_homography(np.linalg.inv(before), corners)
    return float(np.abs(apply_homography(after, page_points) - corners).max())


def add_sensor_noise(rng: np.random.Generator, frame: np.ndarray, sigma: float) -> None:
    """Add grey-level noise plus a little colour noise to a float32 BGR frame, in place."""
    if sigma <= 0:
        return
    grey = rng.standard_normal(frame.shape[:2], dtype=np.float32) * np.float32(sigma)
    frame += grey[..., None]
    # Colour noise from shifted copies of the same field: uncorrelated at each pixel, and a
    # third of the cost of drawing three more fields.
    for channel, shift in enumerate(rng.integers(7, 97, 3)):
        frame[..., channel] += np.roll(grey, int(shift) * (channel + 1)) * np.float32(0.35)


class NoiseBank:
    """Sensor noise for many frames: a few pre-drawn fields, cropped at random offsets.

    Drawing fresh Gaussian noise for every video frame costs more than everything else in the
    frame; shifted crops of a small bank look the same and cost one addition.
    """

    def __init__(self, rng: np.random.Generator, frame_size: tuple[int, int], sigma: float,
                 fields: int = 3, spare_px: int = 64) -> None:
        width, height = frame_size
        self.rng, self.frame_size, self.spare_px = rng, frame_size, spare_px
        shape = (height + spare_px, width + spare_px)
        self.fields = []
        for _ in range(fields):
            field = rng.standard_normal(shape + (3,), dtype=np.float32) * np.float32(sigma * 0.35)
            field += rng.standard_normal(shape, dtype=np.float32)[..., None] * np.float32(sigma)
            self.fields.append(field)

    def add_to(self, frame: np.ndarray) -> None:
        """Add one frame's worth of noise to a float32 BGR frame, in place."""
        width, height = self.frame_size
        field = self.fields[self.rng.integers(len(self.fields))]
        dx, dy = self.rng.integers(0, self.spare_px + 1, 2)
        frame += field[dy:dy + height, dx:dx + width]


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """Clip a float frame to 0..255 and round to uint8."""
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8)


def jpeg_round_trip(image: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """Encode as JPEG at `quality`; return the bytes and what a reader decodes from them."""
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes(), cv2.imdecode(encoded, cv2.IMREAD_COLOR)
