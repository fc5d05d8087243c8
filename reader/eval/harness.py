"""The evaluation harness: every reader over every set, scored the same way, as one report.

Sets: generated still images and videos (truth boxes; scores broken down by the tags their
truth files carry) and real photos (truth text only). Per set and reader: numbers read exactly,
numbers read whole (exactly and as one number), digit accuracy (1 - CER), spurious digits per
frame, and frames per second (time inside each reader's read call only; decoding is shared and
not counted). Scoring rules: reader/eval/scoring.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from reader.errors import UserError
from reader.eval.peers import NAMES, Peer
from reader.eval.report import markdown_table
from reader.eval.scene_sets import cut_number_boxes, has_cut_numbers, tags_of, video_frames
from reader.eval.scoring import (
    FrameScore,
    aggregate,
    lines_in_reading_order,
    score_frame,
    score_photo,
)

SET_NAMES = {"images": "generated images", "videos": "generated videos", "photos": "real photos"}
MNIST_BATCH = 1000
VIDEO_PROGRESS_EVERY = 50  # frames between progress lines
Progress = Callable[[str], None]


def _silent(message: str) -> None:
    """Progress sink that drops the message."""


@dataclass
class Method:
    """One reader under test and its tallies: scores per set and per (set, tag), read time."""

    peer: Peer
    scores: dict[str, list[FrameScore]] = field(default_factory=dict)
    tagged: dict[str, dict[str, list[FrameScore]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    photo_reads: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.peer.name

    def read(self, frame: np.ndarray, kind: str, set_key: str) -> dict:
        """Read one frame, adding the time inside the read call to `set_key`'s total."""
        start = time.perf_counter()
        result = self.peer.read(frame, kind)
        self.seconds[set_key] = self.seconds.get(set_key, 0.0) + time.perf_counter() - start
        return result

    def add(self, set_key: str, score: FrameScore, tags: tuple[str, ...] = ()) -> None:
        self.scores.setdefault(set_key, []).append(score)
        for tag in tags:
            self.tagged.setdefault(set_key, {}).setdefault(tag, []).append(score)


def warm_up(methods: list[Method]) -> None:
    """One untimed read each, so one-off start-up work (interpreter allocation, Keras tracing)
    does not count against frames per second."""
    blank_page = np.full((480, 640, 3), 255, np.uint8)
    for method in methods:
        method.peer.read(blank_page, "image")
        method.peer.reset()


def run_images(methods: list[Method], images: list[tuple[Path, dict]],
               progress: Progress = _silent) -> None:
    """Score every method on the generated still images."""
    for index, (path, truth) in enumerate(images, start=1):
        frame = cv2.imread(str(path))
        if frame is None:
            raise UserError(f"{path}: cannot read the image")
        for method in methods:
            result = method.read(frame, "image", "images")
            method.add("images", score_frame(truth["numbers"], result["numbers"],
                                             result["digits"], cut_number_boxes(truth)),
                       tags_of(truth))
        progress(f"image {index}/{len(images)} {path.name}")


def run_videos(methods: list[Method], videos: list[tuple[Path, dict]], frame_limit: int | None,
               progress: Progress = _silent) -> None:
    """Score every method on every frame of the generated videos; trackers reset per file."""
    for index, (path, truth) in enumerate(videos, start=1):
        for method in methods:
            method.peer.reset()
        frame_count = 0
        for frame_index, frame in enumerate(video_frames(path, frame_limit)):
            if frame_index >= len(truth["frames"]):
                progress(f"warning: {path.name} has more frames than its truth; extra ignored")
                break
            frame_truth = truth["frames"][frame_index]
            ignore_boxes = cut_number_boxes(frame_truth)
            tags = tags_of(truth, frame_truth)
            for method in methods:
                result = method.read(frame, "video", "videos")
                method.add("videos", score_frame(frame_truth["numbers"], result["numbers"],
                                                 result["digits"], ignore_boxes), tags)
            frame_count += 1
            if frame_count % VIDEO_PROGRESS_EVERY == 0:
                progress(f"video {index}/{len(videos)} {path.name}: frame {frame_count}")
        progress(f"video {index}/{len(videos)} {path.name}: {frame_count} frames")


def run_photos(methods: list[Method], photos: list[tuple[Path, str]],
               progress: Progress = _silent) -> None:
    """Score every method on the real photos, in reading order."""
    for index, (path, truth) in enumerate(photos, start=1):
        frame = cv2.imread(str(path))
        if frame is None:
            raise UserError(f"{path}: cannot read the photo")
        for method in methods:
            result = method.read(frame, "photo", "photos")
            score = score_photo(truth, result["numbers"])
            method.add("photos", score)
            method.photo_reads.append({
                "file": path.name, "truth": truth,
                "read": "/".join(lines_in_reading_order(result["numbers"])),
                "lines_exact": score.numbers_exact, "lines": score.numbers_total,
                "char_errors": score.char_errors, "chars": score.chars_total})
        progress(f"photo {index}/{len(photos)} {path.name}")


def mnist_test_probabilities(model_path: Path, limit: int | None = None,
                             data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The model file's class probabilities (N, classes) for the MNIST test digits, through
    DigitClassifier, with the input preparation the model was trained on (its model card says
    which); and the digits' labels."""
    from reader.classify import DigitClassifier
    from reader.training.mnist import as_network_input, load_mnist

    card_path = Path(model_path).with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    reader_normalized = bool(card.get("data", {}).get("reader_normalized", False))
    mnist = load_mnist(data_dir)
    images, labels = mnist.x_test[:limit], mnist.y_test[:limit]
    classifier = DigitClassifier(model_path)
    probs = [classifier.predict(as_network_input(images[start:start + MNIST_BATCH],
                                                 reader_normalized))
             for start in range(0, len(images), MNIST_BATCH)]
    return (np.concatenate(probs) if probs else np.zeros((0, 10), np.float32)), labels


def mnist_test_accuracy(model_path: Path, limit: int | None, data_dir: Path | None = None
                        ) -> dict:
    """Accuracy of the model file on the MNIST test set (see `mnist_test_probabilities`)."""
    from reader.classify import NUM_CLASSES

    probs, labels = mnist_test_probabilities(model_path, limit, data_dir)
    # The digit classes decide the digit; a model with "not a digit" may also reject one.
    correct = int((np.argmax(probs[:, :NUM_CLASSES], axis=1) == labels).sum())
    rejected = int((np.argmax(probs, axis=1) >= NUM_CLASSES).sum())
    count = max(len(labels), 1)
    return {"model": str(model_path), "test_images": len(labels),
            "accuracy_pct": round(100.0 * correct / count, 2),
            "called_not_a_digit_pct": round(100.0 * rejected / count, 2)}


def evaluate(methods: list[Method], images: list[tuple[Path, dict]],
             videos: list[tuple[Path, dict]], photos: list[tuple[Path, str]],
             sources: dict[str, str], frame_limit: int | None = None,
             progress: Progress = _silent) -> dict:
    """Run every method over every set; returns {"sets", "results", "by_tag", "photo_reads"}."""
    warm_up(methods)
    sets: dict[str, dict] = {}
    if images:
        run_images(methods, images, progress)
        sets["images"] = {"source": sources["scenes"], "files": len(images),
                          "frames": len(images)}
    if videos:
        run_videos(methods, videos, frame_limit, progress)
        sets["videos"] = {"source": sources["scenes"], "files": len(videos),
                          "frames": len(methods[0].scores.get("videos", [])),
                          "cut_numbers_in_truth": has_cut_numbers(videos)}
    if photos:
        run_photos(methods, photos, progress)
        sets["photos"] = {"source": sources["photos"], "files": len(photos),
                          "frames": len(photos)}
    return {
        "sets": sets,
        "results": {m.name: {key: aggregate(scores, m.seconds.get(key)).to_json()
                             for key, scores in m.scores.items()} for m in methods},
        "by_tag": {m.name: {key: {tag: aggregate(scores).to_json()
                                  for tag, scores in sorted(by_tag.items())}
                            for key, by_tag in m.tagged.items()} for m in methods},
        "photo_reads": {m.name: m.photo_reads for m in methods if m.photo_reads},
        "methods": {m.name: NAMES[m.name] for m in methods},
    }


def report_markdown(report: dict) -> str:
    """The report as markdown: the machine, the command, the model, one table per view."""
    machine = report["machine"]
    lines = ["# digit-reader evaluation", "",
             (f"Machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']},"
             f" OpenCV {machine['opencv']}"), "", f"Command: `{report['command']}`", ""]
    if report.get("mnist"):
        mnist = report["mnist"]
        lines += [(f"MNIST test accuracy of `{Path(mnist['model']).name}`:"
                  f" {mnist['accuracy_pct']:.2f}% ({mnist['test_images']} images)"), ""]
    for key, info in report["sets"].items():
        lines.append(f"- {SET_NAMES[key]}: {info['files']} files, {info['frames']} frames"
                     f" from {info['source']}")
    lines.append("")
    columns = ["numbers read exactly %", "numbers read whole %", "digit accuracy %",
               "spurious digits / frame"]
    rows = []
    for key, set_name in SET_NAMES.items():
        for method, by_set in report["results"].items():
            if key in by_set:
                score = by_set[key]
                rows.append([set_name, report["methods"][method], score["frames"],
                             *_score_cells(score), score["fps"]])
    lines += [markdown_table(["set", "reader", "frames", *columns, "frames / s"], rows), ""]
    tag_rows = []
    for key, set_name in SET_NAMES.items():
        tags = sorted({tag for by_set in report["by_tag"].values()
                       for tag in by_set.get(key, {})})
        for tag in tags:
            for method, by_set in report["by_tag"].items():
                score = by_set.get(key, {}).get(tag)
                if score is not None:
                    tag_rows.append([set_name, tag, report["methods"][method], score["frames"],
                                     *_score_cells(score)])
    if tag_rows:
        lines += ["By scene tag (a scene with several tags counts under each):", "",
                  markdown_table(["set", "tag", "reader", "frames", *columns], tag_rows), ""]
    lines.append("Frames per second: time inside each reader's read call (decoding not counted)."
                 " Read whole: exactly and as ONE predicted number.")
    if "photos" in report["sets"]:
        lines.append("On real photos a \"number\" is a truth line (lines read exactly, matched in"
                     " order); spurious digits need truth boxes, so photos count them only as"
                     " errors in digit accuracy.")
    if not report["sets"].get("videos", {}).get("cut_numbers_in_truth", True):
        lines.append("Generated videos: the truth leaves out numbers cut by the frame edge and does"
                     " not list where they are (`cut_numbers`), so whole digits of those numbers"
                     " count as spurious here.")
    for method, version in report.get("versions", {}).items():
        lines.append(f"{NAMES[method]}: {version}.")
    for method, reason in report["skipped"].items():
        lines.append(f"Skipped {NAMES.get(method, method)}: {reason}")
    return "\n".join(lines) + "\n"


def _score_cells(score: dict) -> list:
    return [score["numbers_exact_pct"], score["numbers_whole_pct"], score["digit_accuracy_pct"],
            score["spurious_per_frame"]]
