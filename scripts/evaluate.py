"""Measure how well the reader reads, next to the usual approach and Tesseract, on the same inputs.

Sets: generated still images and generated videos (scripts/make_scenes.py, with truth boxes) and
the real photos in ../shared/eval/photos (truth text only). Per set and reader: numbers read
exactly %, digit accuracy % (1 - character error rate), spurious digits per frame, and frames per
second (time spent inside each reader's read call only; decoding is shared and not counted).
Also the MNIST test accuracy of the model file. Scoring rules: reader/eval/scoring.py.

Usage:
  python scripts/evaluate.py                                # fresh 20 images + 4 videos, photos
  python scripts/evaluate.py --scenes runs/scenes --md runs/eval.md --json runs/eval.json
  python scripts/evaluate.py --generate 2,1 --video-frames 5 --limit-photos 2 --no-baseline

The usual approach needs models/seed.keras (and imports TensorFlow); Tesseract needs the
`tesseract` command. Each is skipped, with the reason in the report, when missing or switched off.
Progress goes to stderr; the report to stdout, --md and --json.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from reader.errors import UserError
from reader.eval.report import command_line, machine_info, markdown_table, write_text
from reader.eval.scoring import (
    FrameScore,
    aggregate,
    lines_in_reading_order,
    score_frame,
    score_photo,
)
from reader.progress import progress

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "eval" / "photos"
DEFAULT_MODEL = REPO_ROOT / "models" / "digits.tflite"
DEFAULT_SEED_MODEL = REPO_ROOT / "models" / "seed.keras"
SET_NAMES = {"images": "generated images", "videos": "generated videos", "photos": "real photos"}
METHOD_NAMES = {"reader": "digit-reader", "baseline": "usual approach",
                "tesseract": "Tesseract --psm 11"}
MNIST_BATCH = 1000
VIDEO_PROGRESS_EVERY = 50  # frames between progress lines


@dataclass
class Method:
    """One reader under test: how to read a frame, how to forget a video, and its tallies."""

    name: str
    read: Callable[[np.ndarray, str], dict]   # (frame, kind: image/video/photo) -> result dict
    reset: Callable[[], None] = lambda: None
    scores: dict[str, list[FrameScore]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    photo_reads: list[dict] = field(default_factory=list)

    def timed_read(self, frame: np.ndarray, kind: str, set_key: str) -> dict:
        """Read one frame, adding the time inside the read call to `set_key`'s total."""
        start = time.perf_counter()
        result = self.read(frame, kind)
        self.seconds[set_key] = self.seconds.get(set_key, 0.0) + time.perf_counter() - start
        return result


def make_reader_method(model_path: Path, min_confidence: float) -> Method:
    """The reader under test: a plain Reader for stills, a tracking one for video."""
    from reader.pipeline import Reader

    still = Reader(model_path=model_path, min_confidence=min_confidence, track=False)
    tracked = Reader(model_path=model_path, min_confidence=min_confidence, track=True)

    def read(frame: np.ndarray, kind: str) -> dict:
        reader = tracked if kind == "video" else still
        return reader.read(frame).to_json("", 0)

    return Method("reader", read, reset=tracked.reset)


def make_baseline_method(seed_path: Path) -> Method:
    """The usual approach with the seed Keras network (imports TensorFlow)."""
    from reader.eval.baseline import BaselineReader

    baseline = BaselineReader(seed_path)
    return Method("baseline", lambda frame, kind: baseline.read(frame))


def make_tesseract_method() -> Method:
    """Tesseract through its command line."""
    from reader.eval.tesseract import TesseractReader

    tesseract = TesseractReader()
    return Method("tesseract", lambda frame, kind: tesseract.read(frame))


# ---------------------------------------------------------------- inputs


def generate_scenes(out_dir: Path, images: int, videos: int, seed: int,
                    video_frames: int | None) -> None:
    """Write a fresh scene set with scripts/make_scenes.py."""
    command = [sys.executable, str(REPO_ROOT / "scripts" / "make_scenes.py"), "--out",
               str(out_dir), "--images", str(images), "--videos", str(videos), "--seed", str(seed)]
    if video_frames:
        command += ["--frames-min", str(video_frames), "--frames-max", str(video_frames)]
    progress(f"generating {images} images and {videos} videos into {out_dir}")
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         check=False)
    if run.returncode != 0:
        raise UserError(f"scripts/make_scenes.py failed: {run.stderr.strip()[-300:]}")


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


# ---------------------------------------------------------------- runs


def cut_number_boxes(frame_truth: dict) -> list[list[int]]:
    """Boxes of numbers cut by the frame edge, when the truth lists them (optional key
    `cut_numbers`: [{"box": [x, y, w, h]}, ...], the visible part). Their whole digits are real
    ink, so reading them is not spurious; they are not scored as numbers either."""
    return [entry["box"] for entry in frame_truth.get("cut_numbers", [])]


def has_cut_numbers(scenes: list[tuple[Path, dict]]) -> bool:
    """Whether the truth files list numbers cut by the frame edge (`cut_numbers`)."""
    return any("cut_numbers" in frame for _, truth in scenes
               for frame in truth.get("frames", [truth]))


def run_images(methods: list[Method], images: list[tuple[Path, dict]]) -> None:
    """Score every method on the generated still images."""
    for index, (path, truth) in enumerate(images, start=1):
        frame = cv2.imread(str(path))
        if frame is None:
            raise UserError(f"{path}: cannot read the image")
        for method in methods:
            result = method.timed_read(frame, "image", "images")
            method.scores.setdefault("images", []).append(
                score_frame(truth["numbers"], result["numbers"], result["digits"],
                            cut_number_boxes(truth)))
        progress(f"image {index}/{len(images)} {path.name}")


def run_videos(methods: list[Method], videos: list[tuple[Path, dict]],
               frame_limit: int | None) -> None:
    """Score every method on every frame of the generated videos; trackers reset per file."""
    for index, (path, truth) in enumerate(videos, start=1):
        for method in methods:
            method.reset()
        frame_count = 0
        for frame_index, frame in enumerate(video_frames(path, frame_limit)):
            if frame_index >= len(truth["frames"]):
                progress(f"warning: {path.name} has more frames than its truth; extra ignored")
                break
            frame_truth = truth["frames"][frame_index]
            ignore_boxes = cut_number_boxes(frame_truth)
            for method in methods:
                result = method.timed_read(frame, "video", "videos")
                method.scores.setdefault("videos", []).append(score_frame(
                    frame_truth["numbers"], result["numbers"], result["digits"], ignore_boxes))
            frame_count += 1
            if frame_count % VIDEO_PROGRESS_EVERY == 0:
                progress(f"video {index}/{len(videos)} {path.name}: frame {frame_count}")
        progress(f"video {index}/{len(videos)} {path.name}: {frame_count} frames")


def run_photos(methods: list[Method], photos: list[tuple[Path, str]]) -> None:
    """Score every method on the real photos, in reading order."""
    for index, (path, truth) in enumerate(photos, start=1):
        frame = cv2.imread(str(path))
        if frame is None:
            raise UserError(f"{path}: cannot read the photo")
        for method in methods:
            result = method.timed_read(frame, "photo", "photos")
            score = score_photo(truth, result["numbers"])
            method.scores.setdefault("photos", []).append(score)
            method.photo_reads.append({
                "file": path.name, "truth": truth,
                "read": "/".join(lines_in_reading_order(result["numbers"])),
                "lines_exact": score.numbers_exact, "lines": score.numbers_total,
                "char_errors": score.char_errors, "chars": score.chars_total})
        progress(f"photo {index}/{len(photos)} {path.name}")


def mnist_test_accuracy(model_path: Path, limit: int | None) -> dict:
    """Accuracy of the model file on the MNIST test set, through DigitClassifier, with the
    input preparation the model was trained on (its model card says which)."""
    from reader.classify import DigitClassifier
    from reader.training.mnist import as_network_input, load_mnist

    card_path = Path(model_path).with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    reader_normalized = bool(card.get("data", {}).get("reader_normalized", False))
    mnist = load_mnist()
    images, labels = mnist.x_test[:limit], mnist.y_test[:limit]
    classifier = DigitClassifier(model_path)
    correct = 0
    for start in range(0, len(images), MNIST_BATCH):
        batch = as_network_input(images[start:start + MNIST_BATCH], reader_normalized)
        probs = classifier.predict(batch)
        correct += int((np.argmax(probs, axis=1) == labels[start:start + MNIST_BATCH]).sum())
    return {"model": str(model_path), "test_images": len(images),
            "accuracy_pct": round(100.0 * correct / max(len(images), 1), 2)}


# ---------------------------------------------------------------- report


def build_report(args: argparse.Namespace, methods: list[Method], skipped: dict[str, str],
                 mnist: dict | None, sets: dict[str, dict], tesseract_version: str | None) -> dict:
    """Everything measured, as one JSON-ready dict."""
    results = {}
    for method in methods:
        results[method.name] = {
            key: aggregate(scores, method.seconds.get(key)).to_json()
            for key, scores in method.scores.items()}
    return {
        "command": command_line(),
        "machine": machine_info(),
        "sets": sets,
        "mnist": mnist,
        "tesseract_version": tesseract_version,
        "methods": {m.name: METHOD_NAMES[m.name] for m in methods},
        "results": results,
        "skipped": skipped,
        "photo_reads": {m.name: m.photo_reads for m in methods if m.photo_reads},
        "timing": "frames per second = frames / time inside the read call (decoding not counted)",
    }


def report_markdown(report: dict) -> str:
    """The report as markdown: the machine, the command, the model and one table."""
    machine = report["machine"]
    machine_line = (f"Machine: {machine['cpu']}, {machine['cores']} cores; Python"
                    f" {machine['python']}, OpenCV {machine['opencv']}")
    lines = ["# digit-reader evaluation", "", machine_line, "",
             f"Command: `{report['command']}`", ""]
    if report["mnist"]:
        mnist = report["mnist"]
        lines.append(f"MNIST test accuracy of `{Path(mnist['model']).name}`:"
                     f" {mnist['accuracy_pct']:.2f}% ({mnist['test_images']} images)")
        lines.append("")
    for key, info in report["sets"].items():
        lines.append(f"- {SET_NAMES[key]}: {info['files']} files, {info['frames']} frames"
                     f" from {info['source']}")
    lines.append("")
    rows = []
    for key, set_name in SET_NAMES.items():
        for method, by_set in report["results"].items():
            if key not in by_set:
                continue
            score = by_set[key]
            rows.append([set_name, report["methods"][method], score["frames"],
                         score["numbers_exact_pct"], score["digit_accuracy_pct"],
                         score["spurious_per_frame"], score["fps"]])
    lines.append(markdown_table(
        ["set", "reader", "frames", "numbers read exactly %", "digit accuracy %",
         "spurious digits / frame", "frames / s"], rows))
    lines.append("")
    lines.append("Frames per second: time inside each reader's read call (decoding not counted).")
    if "photos" in report["sets"]:
        lines.append("On real photos a \"number\" is a truth line (lines read exactly, matched in"
                     " order); spurious digits need truth boxes, so photos count them only as"
                     " errors in digit accuracy.")
    if not report["sets"].get("videos", {}).get("cut_numbers_in_truth", True):
        lines.append("Generated videos: the truth leaves out numbers cut by the frame edge and does"
                     " not list where they are (`cut_numbers`), so whole digits of those numbers"
                     " count as spurious here.")
    if report["tesseract_version"]:
        lines.append(f"Tesseract: {report['tesseract_version']}, `--psm 11`, digits whitelist,"
                     " one thread.")
    for method, reason in report["skipped"].items():
        lines.append(f"Skipped {METHOD_NAMES.get(method, method)}: {reason}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=Path, help="folder written by scripts/make_scenes.py")
    parser.add_argument("--generate", default="20,4", metavar="N,M",
                        help="without --scenes: generate N images and M videos (default 20,4)")
    parser.add_argument("--seed", type=int, default=1234, help="scene generator seed")
    parser.add_argument("--video-frames", type=int,
                        help="frames per generated video (default: make_scenes' own range)")
    parser.add_argument("--no-generated", action="store_true", help="skip the generated sets")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                        help="folder with real photos and truth.tsv (default %(default)s)")
    parser.add_argument("--no-photos", action="store_true", help="skip the real photos")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="reader model file")
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--seed-model", type=Path, default=DEFAULT_SEED_MODEL,
                        help="Keras network of the usual approach (default %(default)s)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the usual approach")
    parser.add_argument("--no-tesseract", action="store_true", help="skip Tesseract")
    parser.add_argument("--limit-images", type=int, help="read at most this many images")
    parser.add_argument("--limit-videos", type=int, help="read at most this many videos")
    parser.add_argument("--limit-frames", type=int, help="read at most this many frames a video")
    parser.add_argument("--limit-photos", type=int, help="read at most this many photos")
    parser.add_argument("--limit-mnist", type=int, help="score at most this many MNIST images")
    parser.add_argument("--md", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    return parser.parse_args(argv)


def parse_generate(text: str) -> tuple[int, int]:
    """'20,4' -> (20, 4)."""
    try:
        images, videos = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--generate {text}: expected N,M (images,videos), e.g. 20,4") from None
    return images, videos


def build_methods(args: argparse.Namespace) -> tuple[list[Method], dict[str, str], str | None]:
    """The reader plus whichever comparisons can run; reasons for those that cannot."""
    from reader.eval.tesseract import tesseract_version

    if not args.model.is_file():
        raise UserError(f"{args.model}: model not found; train it (scripts/train.py) or pass"
                        " --model PATH")
    methods = [make_reader_method(args.model, args.min_confidence)]
    skipped = {}
    if args.no_baseline:
        skipped["baseline"] = "switched off (--no-baseline)"
    elif not args.seed_model.is_file():
        skipped["baseline"] = f"{args.seed_model} not found (train the seed network first)"
    else:
        progress(f"loading the usual approach's network {args.seed_model} (TensorFlow)")
        methods.append(make_baseline_method(args.seed_model))
    version = tesseract_version()
    if args.no_tesseract:
        skipped["tesseract"] = "switched off (--no-tesseract)"
    elif version is None:
        skipped["tesseract"] = "`tesseract` command not installed (apt-get install tesseract-ocr)"
    else:
        methods.append(make_tesseract_method())
    for name, reason in skipped.items():
        progress(f"skipping {METHOD_NAMES[name]}: {reason}")
    # One untimed read each, so one-off start-up work (interpreter allocation, Keras tracing)
    # does not count against frames per second.
    blank_page = np.full((480, 640, 3), 255, np.uint8)
    for method in methods:
        method.read(blank_page, "image")
        method.reset()
    return methods, skipped, version if "tesseract" not in skipped else None


def evaluate(args: argparse.Namespace, scenes_dir: Path | None, scenes_source: str) -> dict:
    """Run every method over every set and return the report dict."""
    # Find every input first, so a wrong path fails before any model loads.
    images, videos = find_scenes(scenes_dir) if scenes_dir is not None else ([], [])
    images, videos = images[:args.limit_images], videos[:args.limit_videos]
    photos = [] if args.no_photos else read_photo_truth(args.photos)[:args.limit_photos]
    methods, skipped, version = build_methods(args)
    sets: dict[str, dict] = {}
    if images:
        run_images(methods, images)
        sets["images"] = {"source": scenes_source, "files": len(images), "frames": len(images)}
    if videos:
        run_videos(methods, videos, args.limit_frames)
        sets["videos"] = {"source": scenes_source, "files": len(videos),
                          "frames": len(methods[0].scores.get("videos", [])),
                          "cut_numbers_in_truth": has_cut_numbers(videos)}
    if photos:
        run_photos(methods, photos)
        sets["photos"] = {"source": str(args.photos), "files": len(photos), "frames": len(photos)}
    progress("scoring the model on the MNIST test set")
    mnist = mnist_test_accuracy(args.model, args.limit_mnist)
    return build_report(args, methods, skipped, mnist, sets, version)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; returns the exit code."""
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="digit-eval-") as tmp:
            scenes_dir, scenes_source = args.scenes, str(args.scenes)
            if args.no_generated:
                scenes_dir = None
            elif scenes_dir is None:
                images, videos = parse_generate(args.generate)
                scenes_dir = Path(tmp) / "scenes"
                generate_scenes(scenes_dir, images, videos, args.seed, args.video_frames)
                scenes_source = (f"scripts/make_scenes.py --images {images} --videos {videos}"
                                 f" --seed {args.seed}"
                                 + (f" ({args.video_frames} frames a video)"
                                    if args.video_frames else ""))
            report = evaluate(args, scenes_dir, scenes_source)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    markdown = report_markdown(report)
    print(markdown)
    if args.md:
        write_text(args.md, markdown)
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
