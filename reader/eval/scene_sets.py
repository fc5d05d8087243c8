"""The evaluation's inputs: generated scene sets (made with `reader.scenes`, or read from a folder
that scripts/make_scenes.py wrote) and real photos with a truth.tsv.

Scene truth files may carry `"tags": ["desk", "faint-pen", ...]` (whole file) and, in videos,
per frame; the evaluation breaks its scores down by every tag it finds, whatever the tags are.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from reader.errors import UserError

# The random streams scripts/make_scenes.py uses, so a seed makes the same files here and there.
STILL_STREAM, VIDEO_STREAM = 1, 2
VIDEO_FRAMES_RANGE = (150, 300)


def generate_scenes(out_dir: Path, images: int, videos: int, seed: int,
                    video_frames: int | None = None, width: int = 640, height: int = 480,
                    progress: Callable[[str], None] = lambda message: None,
                    data_dir: Path | None = None, families: tuple[str, ...] | None = None
                    ) -> None:
    """Write `images` stills and `videos` clips with their truth into `out_dir`, as
    `scripts/make_scenes.py --seed SEED` does (same files for the same seed and index): scene
    families taken in turn, every family of `reader.scenes.clutter` unless `families` says."""
    from reader.scenes.clutter import FAMILIES
    from reader.scenes.glyphs import mnist_test_glyphs
    from reader.scenes.still import SceneOptions, make_still, save_still
    from reader.scenes.truth import write_json_atomic
    from reader.scenes.video import VideoOptions, make_video

    families = tuple(families or FAMILIES)

    out_dir.mkdir(parents=True, exist_ok=True)
    glyphs = mnist_test_glyphs(data_dir)
    for index in range(images):
        rng = np.random.default_rng([seed, STILL_STREAM, index])
        options = SceneOptions(family=families[index % len(families)])
        save_still(make_still(rng, glyphs, width, height, options), out_dir, f"img_{index:04d}")
    if images:
        progress(f"generated {images} images (seed {seed})")
    low, high = (video_frames, video_frames) if video_frames else VIDEO_FRAMES_RANGE
    for index in range(videos):
        rng = np.random.default_rng([seed, VIDEO_STREAM, index])
        frames = int(rng.integers(low, high + 1))
        video_path = out_dir / f"vid_{index:03d}.mp4"
        options = VideoOptions(family=families[index % len(families)])
        write_json_atomic(video_path.with_suffix(".json"),
                          make_video(video_path, rng, glyphs, frames, width, height,
                                     options=options))
        progress(f"generated video {index + 1}/{videos} ({frames} frames, seed {seed})")


def find_scenes(scenes_dir: Path) -> tuple[list[tuple[Path, dict]], list[tuple[Path, dict]]]:
    """(images, videos): each a list of (media file, truth dict), sorted by name."""
    if not scenes_dir.is_dir():
        raise UserError(f"{scenes_dir}: no such folder; pass --scenes DIR made by make_scenes.py")
    images, videos = [], []
    for truth_path in sorted(scenes_dir.glob("*.json")):
        truth = json.loads(truth_path.read_text())
        if not isinstance(truth, dict) or truth.get("kind") not in ("image", "video"):
            continue  # not a scene truth file (e.g. a manifest)
        suffixes = (".png", ".jpg") if truth["kind"] == "image" else (".mp4",)
        media = next((truth_path.with_suffix(s) for s in suffixes
                      if truth_path.with_suffix(s).is_file()), None)
        if media is None:
            raise UserError(f"{truth_path}: no {' or '.join(suffixes)} beside it")
        (images if truth["kind"] == "image" else videos).append((media, truth))
    return images, videos


def tags_of(*truths: dict) -> tuple[str, ...]:
    """The tags of a scene (and of a video frame), sorted: `"tags"` as a list or one string."""
    tags: set[str] = set()
    for truth in truths:
        value = truth.get("tags", ())
        tags.update([value] if isinstance(value, str) else (str(tag) for tag in value))
    return tuple(sorted(tags))


def video_frames(path: Path, limit: int | None) -> Iterator[np.ndarray]:
    """The frames of a video file, in order, at most `limit`."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UserError(f"{path}: cannot open the video")
    try:
        count = 0
        while limit is None or count < limit:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield frame
    finally:
        capture.release()


def read_photo_truth(photos_dir: Path) -> list[tuple[Path, str]]:
    """(photo file, truth text) from truth.tsv; truth stays text so leading zeros survive."""
    truth_path = photos_dir / "truth.tsv"
    if not truth_path.is_file():
        raise UserError(f"{truth_path}: not found; pass --photos DIR holding truth.tsv")
    with truth_path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(photos_dir / row["file"], row["truth"].strip()) for row in rows]


def cut_number_boxes(frame_truth: dict) -> list[list[int]]:
    """Boxes of numbers cut by the frame edge, when the truth lists them (optional key
    `cut_numbers`: [{"box": [x, y, w, h]}, ...], the visible part). Their whole digits are real
    ink, so reading them is not spurious; they are not scored as numbers either."""
    return [entry["box"] for entry in frame_truth.get("cut_numbers", [])]


def has_cut_numbers(scenes: list[tuple[Path, dict]]) -> bool:
    """Whether the truth files list numbers cut by the frame edge (`cut_numbers`)."""
    return any("cut_numbers" in frame for _, truth in scenes
               for frame in truth.get("frames", [truth]))
