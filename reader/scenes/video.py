"""Videos of a hand-held camera moving over a page of handwritten numbers, with per-frame truth."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reader.errors import RuntimeFailure
from reader.scenes import camera, clutter, paper
from reader.scenes.glyphs import GlyphBank, mnist_test_glyphs
from reader.scenes.layout import BlockSpec, PlacedNumber, lay_out_block
from reader.scenes.still import HEIGHT_RANGE_PX, sample_stroke
from reader.scenes.truth import InkTracker

FOURCC = "mp4v"
MAX_BLUR_SAMPLES = 7
BLUR_STEP_PX = 1.5       # one extra exposure sample per this much motion during the exposure


@dataclass(frozen=True)
class VideoOptions:
    """Nuisance levels for a video."""

    noise_sigma_range: tuple[float, float] = (1.0, 4.0)
    shake_px_range: tuple[float, float] = (1.0, 5.0)
    exposure_range: tuple[float, float] = (0.3, 0.8)     # fraction of the frame interval
    focus_blur_range: tuple[float, float] = (0.3, 0.9)   # Gaussian sigma, pixels
    flicker: float = 0.03                                # brightness swing, fraction
    zoom_range: tuple[float, float] = (0.9, 1.25)
    family: str = "plain"   # one of clutter.FAMILIES; written to the truth's "tags"


# The "blur" family: a long exposure and a shaking hand (and a deep shadow, see make_video).
BLUR_EXPOSURE_RANGE = (0.85, 1.0)
BLUR_SHAKE_PX_RANGE = (6.0, 12.0)


def make_video(path: str | Path, rng: np.random.Generator, glyphs: GlyphBank, n_frames: int,
               width: int = 640, height: int = 480, fps: int = 30,
               options: VideoOptions = VideoOptions()) -> dict:
    """Write an mp4v video of a moving camera over a page to `path`; return its truth dict.

    Each frame's truth lists only numbers whose digits are all wholly inside the frame; boxes
    are at the middle of the frame's exposure (motion blur smears ink around them).
    """
    path = Path(path)
    family = options.family
    if family not in clutter.FAMILIES:
        raise ValueError(f"unknown scene family {family!r}; one of {', '.join(clutter.FAMILIES)}")
    if family == "blur":
        options = dataclasses.replace(options, exposure_range=BLUR_EXPOSURE_RANGE,
                                      shake_px_range=BLUR_SHAKE_PX_RANGE)
    frame_size = (width, height)
    duration_s = n_frames / fps
    exposure_s = float(rng.uniform(*options.exposure_range)) / fps
    path_ = camera.sample_camera_path(rng, frame_size, duration_s, options.zoom_range,
                                      options.shake_px_range)
    times = np.arange(n_frames) / fps

    # Size the page to everything the camera will ever see, exposure included, plus a margin.
    quads = np.concatenate([camera.frame_quad_on_page(path_.homography(t + dt), frame_size)
                            for t in times for dt in (-exposure_s / 2, 0.0, exposure_s / 2)])
    origin = np.floor(quads.min(axis=0)) - 8
    page_w, page_h = (np.ceil(quads.max(axis=0)) + 8 - origin).astype(int)
    path_ = path_.moved(-origin[0], -origin[1])

    sheet = None
    area = (0.0, 0.0, float(page_w), float(page_h))
    if family == "desk":
        sheet = clutter.sheet_quad(rng, (int(page_w), int(page_h)), (8.0, 8.0, page_w - 8.0,
                                                                      page_h - 8.0))
        area = clutter.quad_inner_rect(sheet, 0.03 * width / path_.zoom)
        area = (max(0.0, area[0]), max(0.0, area[1]), min(float(page_w), area[2]),
                min(float(page_h), area[3]))
    numbers = _fill_page(rng, glyphs, area, path_.zoom, frame_size, family)
    page = paper.make_paper(rng, int(page_h), int(page_w), paper.sample_paper_style(rng))
    ink = clutter.faint_ink(rng) if family == "faint" else paper.sample_ink_style(rng)
    paper.draw_ink(rng, page, numbers, ink)
    if family == "printed":
        count = int(page_w * page_h / (width * height) * rng.uniform(4, 8) * path_.zoom ** 2)
        clutter.draw_printed_text(rng, page, numbers, (0.0, 0.0, float(page_w), float(page_h)),
                                  max(3, count))
    if sheet is not None:
        clutter.lay_sheet_on_desk(rng, page, sheet)
    page_u8 = camera.to_uint8(page)   # uint8 warps are several times faster than float32
    tracker = InkTracker(numbers)

    lighting = paper.sample_lighting(rng)
    if family == "blur":
        lighting = clutter.deep_shadow(lighting, rng)
    shadow_wave = camera.Wave.random(rng, (0.05, 0.3))
    flicker_wave = camera.Wave.random(rng, (0.5, 6.0))
    noise = camera.NoiseBank(rng, frame_size, float(rng.uniform(*options.noise_sigma_range)))
    focus_sigma = float(rng.uniform(*options.focus_blur_range))

    tmp = path.with_name(path.stem + ".tmp" + path.suffix)   # keeps .mp4 for the muxer
    writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*FOURCC), fps,
                             frame_size)
    if not writer.isOpened():
        raise RuntimeFailure(f"{tmp}: cannot open an {FOURCC} video writer; check OpenCV's"
                             " FFmpeg support and that the folder is writable")
    frames_truth = []
    try:
        for t in times:
            page_to_frame = path_.homography(t)
            frame = _expose(page_u8, path_, t, exposure_s, frame_size)
            flicker = 1.0 + options.flicker * flicker_wave(t) + rng.normal(0, options.flicker / 3)
            paper.apply_lighting(frame, lighting, shadow_shift=0.05 * shadow_wave(t),
                                 scale=flicker)
            frame = cv2.GaussianBlur(frame, (0, 0), focus_sigma)
            noise.add_to(frame)
            writer.write(camera.to_uint8(frame))
            frames_truth.append(tracker.frame_truth(page_to_frame, frame_size))
    except BaseException:
        writer.release()
        tmp.unlink(missing_ok=True)
        raise
    writer.release()
    if not tmp.is_file() or tmp.stat().st_size == 0:
        raise RuntimeFailure(f"{tmp}: the video writer produced no file; check free disk space")
    os.replace(tmp, path)
    return {"kind": "video", "width": width, "height": height, "fps": fps, "tags": [family],
            "frames": frames_truth}


def make_demo_clip(path: str | Path, seed: int = 0, seconds: float = 8.0, fps: int = 25,
                   width: int = 640, height: int = 480, glyphs: GlyphBank | None = None) -> dict:
    """Write the bundled demo clip (a calm hand-held pan over handwritten numbers); return truth.

    Less noise, shake and flicker than the test videos: at 640x480 mp4v spends its bits on
    whatever changes between frames, and a brightness flicker changes every pixel. With these
    settings 8 s at 25 fps is about 700 KB.
    """
    rng = np.random.default_rng([seed, 7])
    options = VideoOptions(noise_sigma_range=(0.4, 0.6), shake_px_range=(0.8, 1.5),
                           exposure_range=(0.3, 0.5), focus_blur_range=(0.6, 0.8),
                           flicker=0.005, zoom_range=(1.0, 1.15))
    return make_video(path, rng, glyphs or mnist_test_glyphs(), round(seconds * fps), width,
                      height, fps, options)


def _fill_page(rng: np.random.Generator, glyphs: GlyphBank,
               area: tuple[float, float, float, float], zoom: float,
               frame_size: tuple[int, int], family: str = "plain") -> list[PlacedNumber]:
    """Write blocks of numbers in a grid of cells over `area` (x0, y0, x1, y1) of the page."""
    width, height = frame_size
    left, top = area[0], area[1]
    page_w, page_h = area[2] - area[0], area[3] - area[1]
    stroke = clutter.faint_stroke(rng) if family == "faint" else sample_stroke(rng)
    cell_w = width / zoom * rng.uniform(0.5, 0.75)
    cell_h = height / zoom * rng.uniform(0.4, 0.6)
    cols, rows = max(1, int(page_w // cell_w)), max(1, int(page_h // cell_h))
    cell_w, cell_h = page_w / cols, page_h / rows
    spec = BlockSpec(max_lines=3, height_range_px=(HEIGHT_RANGE_PX[0] * 1.1 / zoom,
                                                   HEIGHT_RANGE_PX[1] * 0.9 / zoom),
                     touching=0.8 if family == "touching" else 0.0)
    numbers: list[PlacedNumber] = []
    for row in range(rows):
        for col in range(cols):
            if rows * cols > 1 and rng.random() > 0.8:   # a one-cell page always has numbers
                continue
            # Cells shrunk by 5% each side so blocks in neighbouring cells never touch.
            rect = (int(left + col * cell_w + 0.05 * cell_w),
                    int(top + row * cell_h + 0.05 * cell_h),
                    int(left + (col + 1) * cell_w - 0.05 * cell_w),
                    int(top + (row + 1) * cell_h - 0.05 * cell_h))
            numbers += lay_out_block(rng, glyphs, rect, stroke, spec)
    return numbers


def _expose(page_u8: np.ndarray, path: camera.CameraPath, t: float, exposure_s: float,
            frame_size: tuple[int, int]) -> np.ndarray:
    """The frame as float32, averaged over the exposure so motion blurs along the motion."""
    start, end = path.homography(t - exposure_s / 2), path.homography(t + exposure_s / 2)
    motion_px = camera.corner_motion_px(start, end, frame_size)
    samples = int(np.clip(np.ceil(motion_px / BLUR_STEP_PX), 1, MAX_BLUR_SAMPLES))
    if samples == 1:
        return camera.warp_page(page_u8, path.homography(t), frame_size).astype(np.float32)
    frame = np.zeros((frame_size[1], frame_size[0], 3), np.float32)
    for offset in np.linspace(-0.5, 0.5, samples):
        frame += camera.warp_page(page_u8, path.homography(t + offset * exposure_s), frame_size)
    frame *= np.float32(1.0 / samples)
    spacing_px = motion_px / (samples - 1)
    if spacing_px > 1.0:
        # Fast motion: smooth the gaps between the discrete exposure samples (no ghost copies).
        frame = cv2.GaussianBlur(frame, (0, 0), 0.5 * spacing_px)
    return frame
