"""Make camera-like test scenes of handwritten numbers, with ground truth, deterministic by seed.

Usage:
    python scripts/make_scenes.py --out runs/scenes [--images 50] [--videos 3] [--seed 0]
        [--width 640 --height 480] [--frames-min 150 --frames-max 300] [--fps 30]
        [--families plain,desk,printed,faint,blur,touching] [--glyphs test|train]
    python scripts/make_scenes.py --demo reader/assets/demo.mp4 [--seed 0]

Stills are img_NNNN.png (or .jpg when the scene has JPEG artefacts) with img_NNNN.json; videos
are vid_NNN.mp4 (mp4v) with vid_NNN.json. The truth format is described in reader/scenes/truth.py
and the team's CONTEXT: boxes are [x, y, w, h] of each digit's ink after every transform. In
videos a number is listed in a frame only when all its digits are wholly inside the frame.
Digits are MNIST *test* images (--glyphs train: the training split, for scenes that feed
training). Each file depends only on --seed, --families and its own index, so `--images 10`
makes the first ten files of `--images 50`.

Scene families (each file's truth lists its family in "tags", so results can be broken down):
files take the families in turn (file k is family k mod the number of families).
    plain     the page fills the frame (ruling, light, shadow, blur, noise, JPEG)
    desk      the sheet lies on a wood or fabric desk; its edge and the desk are in view
    printed   printed words and letters (Hershey fonts) beside and around the numbers
    faint     a thin, faint pen
    blur      heavy motion blur under a deep shadow
    touching  neighbouring digits of a number touch

--demo PATH writes the reader's bundled demo clip (8 s, 25 fps, 640x480) and PATH's .json truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from reader.errors import RuntimeFailure, UserError
from reader.scenes.clutter import FAMILIES
from reader.scenes.glyphs import mnist_glyphs, mnist_test_glyphs
from reader.scenes.still import SceneOptions, make_still, save_still
from reader.scenes.truth import write_json_atomic
from reader.scenes.video import VideoOptions, make_demo_clip, make_video

STILL_STREAM, VIDEO_STREAM = 1, 2   # separate random streams per kind of file


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read and check the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the scenes (created if missing)")
    parser.add_argument("--images", type=int, default=50, help="still images (default 50)")
    parser.add_argument("--videos", type=int, default=3, help="videos (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--width", type=int, default=640, help="frame width (default 640)")
    parser.add_argument("--height", type=int, default=480, help="frame height (default 480)")
    parser.add_argument("--frames-min", type=int, default=150, help="shortest video, frames")
    parser.add_argument("--frames-max", type=int, default=300, help="longest video, frames")
    parser.add_argument("--fps", type=int, default=30, help="video frame rate (default 30)")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help="comma-separated scene families, taken in turn (default: all:"
                             f" {','.join(FAMILIES)})")
    parser.add_argument("--glyphs", choices=("test", "train"), default="test",
                        help="MNIST split the digits come from (default test; train is for"
                             " scenes that feed training)")
    parser.add_argument("--data", type=Path, help="folder with the MNIST IDX files")
    parser.add_argument("--demo", type=Path, metavar="PATH",
                        help="write the bundled demo clip to PATH (.mp4) instead of scenes")
    args = parser.parse_args(argv)
    if args.demo is None and args.out is None:
        parser.error("--out DIR is required (or --demo PATH)")
    if args.images < 0 or args.videos < 0:
        parser.error("--images and --videos must be 0 or more")
    if args.width < 160 or args.height < 120:
        parser.error("--width/--height must be at least 160x120 to fit handwriting")
    if not 1 <= args.frames_min <= args.frames_max:
        parser.error("need 1 <= --frames-min <= --frames-max")
    if args.fps < 1:
        parser.error("--fps must be at least 1")
    args.families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown or not args.families:
        parser.error(f"--families: unknown {', '.join(unknown) or '(none given)'}; choose from"
                     f" {','.join(FAMILIES)}")
    return args


def make_scenes(args: argparse.Namespace) -> None:
    """Write the stills and videos the arguments ask for, one progress line per file."""
    out_dir: Path = args.out
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: exists and is not a folder; pass another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    glyphs = mnist_glyphs(args.glyphs, args.data)
    families = args.families
    started = time.perf_counter()
    n_numbers = n_frames = 0
    for index in range(args.images):
        t0 = time.perf_counter()
        rng = np.random.default_rng([args.seed, STILL_STREAM, index])
        family = families[index % len(families)]
        scene = make_still(rng, glyphs, args.width, args.height, SceneOptions(family=family))
        image_path = save_still(scene, out_dir, f"img_{index:04d}")
        numbers = scene.truth["numbers"]
        n_numbers += len(numbers)
        print(f"[{index + 1}/{args.images}] {image_path}  {family}, {len(numbers)} numbers,"
              f" {sum(len(n['text']) for n in numbers)} digits"
              f"  {(time.perf_counter() - t0) * 1000:.0f} ms", flush=True)
    for index in range(args.videos):
        t0 = time.perf_counter()
        rng = np.random.default_rng([args.seed, VIDEO_STREAM, index])
        frames = int(rng.integers(args.frames_min, args.frames_max + 1))
        video_path = out_dir / f"vid_{index:03d}.mp4"
        family = families[index % len(families)]
        truth = make_video(video_path, rng, glyphs, frames, args.width, args.height, args.fps,
                           VideoOptions(family=family))
        write_json_atomic(video_path.with_suffix(".json"), truth)
        n_frames += frames
        seen = np.mean([len(f["numbers"]) for f in truth["frames"]])
        print(f"[video {index + 1}/{args.videos}] {video_path}  {family}, {frames} frames,"
              f" {seen:.1f} whole numbers per frame  {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"wrote {args.images} images ({n_numbers} numbers) and {args.videos} videos"
          f" ({n_frames} frames) to {out_dir} in {time.perf_counter() - started:.1f} s")


def make_demo(args: argparse.Namespace) -> None:
    """Write the demo clip and its truth beside it."""
    path: Path = args.demo
    if path.suffix.lower() != ".mp4":
        raise UserError(f"{path}: the demo clip is written as mp4v; give a .mp4 path")
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    truth = make_demo_clip(path, args.seed, glyphs=mnist_test_glyphs(args.data))
    write_json_atomic(path.with_suffix(".json"), truth)
    print(f"wrote {path}: {len(truth['frames'])} frames at {truth['fps']} fps,"
          f" {path.stat().st_size / 1024:.0f} KB, in {time.perf_counter() - t0:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit code."""
    args = parse_args(argv)
    # One OpenCV thread: the machine is shared (model training runs beside this).
    cv2.setNumThreads(1)
    try:
        if args.demo is not None:
            make_demo(args)
        else:
            make_scenes(args)
    except UserError as exc:
        print(f"make_scenes: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:   # disk full, permissions: name the file, no traceback
        print(f"make_scenes: {exc.filename or ''}: {exc.strerror or exc}; check the folder",
              file=sys.stderr)
        return RuntimeFailure.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
