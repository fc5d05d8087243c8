"""One camera-like still photo of handwritten numbers, with its truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reader.scenes import camera, clutter, paper
from reader.scenes.glyphs import GlyphBank, Stroke
from reader.scenes.layout import BlockSpec, lay_out_block
from reader.scenes.truth import (
    BORDER_PX,
    InkTracker,
    boxes_overlap,
    write_bytes_atomic,
    write_json_atomic,
)

# Digit heights in the written image (frame pixels).
HEIGHT_RANGE_PX = (24.0, 110.0)
MAX_ATTEMPTS = 30


@dataclass(frozen=True)
class SceneOptions:
    """Switches for a scene's nuisances; None means "decide at random"."""

    ruled: bool | None = None
    jpeg: bool | None = None      # JPEG artefacts (written as .jpg)
    noise: bool = True
    blur: bool = True
    lighting: bool = True
    max_lines: int = 4
    family: str = "plain"         # one of clutter.FAMILIES; written to the truth's "tags"


@dataclass(frozen=True)
class StillScene:
    """A rendered still: the image as a reader would load it, the file bytes, and the truth."""

    image: np.ndarray     # uint8 BGR (height, width, 3), decoded from `encoded`
    encoded: bytes        # PNG or JPEG file contents
    extension: str        # ".png" or ".jpg", matching `encoded`
    truth: dict


def sample_stroke(rng: np.random.Generator) -> Stroke:
    """A random writing tool: MNIST's own stroke, a pen line, or a thick marker."""
    kind = rng.random()
    if kind < 0.4:
        return Stroke(None, level=float(rng.uniform(0.3, 0.5)))
    if kind < 0.75:
        return Stroke(width_frac=float(rng.uniform(0.03, 0.08)))
    return Stroke(width_frac=float(rng.uniform(0.10, 0.16)))


def make_still(rng: np.random.Generator, glyphs: GlyphBank, width: int = 640, height: int = 480,
               options: SceneOptions = SceneOptions()) -> StillScene:
    """Render one photo of 1-4 lines of handwritten numbers on paper, and its truth.

    `options.family` adds that family's nuisance (see `reader.scenes.clutter`); "plain" scenes
    draw exactly what they drew before the families existed.
    """
    family = options.family
    if family not in clutter.FAMILIES:
        raise ValueError(f"unknown scene family {family!r}; one of {', '.join(clutter.FAMILIES)}")
    frame_size = (width, height)
    sheet = None
    for _ in range(MAX_ATTEMPTS):
        zoom = float(rng.uniform(0.9, 1.15))
        view = camera.view_homography((0.0, 0.0), zoom, float(rng.uniform(-4, 4)),
                                      (float(rng.uniform(-0.07, 0.07)),
                                       float(rng.uniform(-0.07, 0.07))), frame_size)
        # Make the page exactly big enough to fill the frame, with a little spare.
        quad = camera.frame_quad_on_page(view, frame_size)
        origin = np.floor(quad.min(axis=0)) - 4
        page_w, page_h = (np.ceil(quad.max(axis=0)) + 4 - origin).astype(int)
        page_to_frame = view @ camera.translation(*origin)
        x0, y0, x1, y1 = camera.inscribed_rect(quad - origin)
        margin_x, margin_y = 0.03 * (x1 - x0), 0.03 * (y1 - y0)
        if family == "desk":
            # The sheet's edge in view; the numbers stay on the sheet, clear of its edge.
            sheet = clutter.sheet_quad(rng, (int(page_w), int(page_h)), (x0, y0, x1, y1))
            sx0, sy0, sx1, sy1 = clutter.quad_inner_rect(sheet, 0.03 * (x1 - x0))
            x0, y0, x1, y1 = max(x0, sx0), max(y0, sy0), min(x1, sx1), min(y1, sy1)
            if x1 - x0 < 0.3 * width or y1 - y0 < 0.2 * height:
                continue
        rect = (int(np.ceil(x0 + margin_x)), int(np.ceil(y0 + margin_y)),
                int(x1 - margin_x), int(y1 - margin_y))
        spec = BlockSpec(max_lines=options.max_lines,
                         # Perspective makes parts of the page up to ~8% smaller or larger.
                         height_range_px=(HEIGHT_RANGE_PX[0] * 1.1 / zoom,
                                          HEIGHT_RANGE_PX[1] * 0.9 / zoom),
                         touching=0.8 if family == "touching" else 0.0)
        stroke = clutter.faint_stroke(rng) if family == "faint" else sample_stroke(rng)
        numbers = lay_out_block(rng, glyphs, rect, stroke, spec)
        if not numbers:
            continue
        tracker = InkTracker(numbers)
        boxes = tracker.digit_boxes_xyxy(page_to_frame, frame_size)
        inside = ((boxes[:, :2] >= BORDER_PX).all()
                  and (boxes[:, 2] <= width - 1 - BORDER_PX).all()
                  and (boxes[:, 3] <= height - 1 - BORDER_PX).all())
        # Touching digits overlap within their number only.
        groups = tracker.number_of_digit if family == "touching" else None
        if inside and not boxes_overlap(boxes, groups=groups):
            break
    else:
        raise RuntimeError(f"could not lay out a {width}x{height} scene in {MAX_ATTEMPTS} tries")

    page = paper.make_paper(rng, int(page_h), int(page_w), paper.sample_paper_style(rng,
                                                                                    options.ruled))
    ink = clutter.faint_ink(rng) if family == "faint" else paper.sample_ink_style(rng)
    paper.draw_ink(rng, page, numbers, ink)
    if family == "printed":
        area = camera.inscribed_rect(quad - origin)
        clutter.draw_printed_text(rng, page, numbers, area, int(rng.integers(3, 9)))
    if sheet is not None:
        clutter.lay_sheet_on_desk(rng, page, sheet)
    frame = camera.warp_page(page, page_to_frame, frame_size)
    if options.lighting:
        lighting = paper.sample_lighting(rng)
        if family == "blur":
            lighting = clutter.deep_shadow(lighting, rng)
        paper.apply_lighting(frame, lighting)
    if family == "blur":
        frame = clutter.motion_blur(rng, frame)
    if options.blur and rng.random() < 0.7:
        frame = cv2.GaussianBlur(frame, (0, 0), float(rng.uniform(0.3, 1.2)))
    if options.noise:
        camera.add_sensor_noise(rng, frame, float(rng.uniform(1.0, 5.0)))
    image = camera.to_uint8(frame)

    use_jpeg = rng.random() < 0.35 if options.jpeg is None else options.jpeg
    if use_jpeg:
        encoded, image = camera.jpeg_round_trip(image, int(rng.integers(40, 81)))
        extension = ".jpg"
    else:
        ok, buffer = cv2.imencode(".png", image)
        if not ok:
            raise RuntimeError("PNG encoding failed")
        encoded, extension = buffer.tobytes(), ".png"
    truth = {"kind": "image", "width": width, "height": height, "tags": [family],
             "numbers": tracker.frame_numbers(page_to_frame, frame_size)}
    return StillScene(image, encoded, extension, truth)


def save_still(scene: StillScene, out_dir: str | Path, name: str) -> Path:
    """Write NAME.png/.jpg and NAME.json into `out_dir` atomically; return the image path.

    A file left from an earlier run under the other extension is removed, so each NAME has one
    image and the JSON always describes it. The JSON is written last: if it exists, so does
    the whole image.
    """
    out_dir = Path(out_dir)
    image_path = out_dir / f"{name}{scene.extension}"
    for stale in (".png", ".jpg"):
        if stale != scene.extension:
            (out_dir / f"{name}{stale}").unlink(missing_ok=True)
    write_bytes_atomic(image_path, scene.encoded)
    write_json_atomic(out_dir / f"{name}.json", scene.truth)
    return image_path
