#!/usr/bin/env python3
"""Teach the model a handwriting style it misreads: before/after fine-tuning on 30 per class.

The style is drawn by this script from MNIST digits with OpenCV: 1s get a long flag and a foot
(as written in much of Europe), 7s get a bar across the stem, 4s are closed at the top. The
other digits keep their MNIST shape, written with a slightly heavier pen. Fine-tuning examples
come from MNIST training digits, held-out examples from MNIST test digits, so the two never
share a digit.

Usage:
  python scripts/handwriting_experiment.py                       # the shipped model
  python scripts/handwriting_experiment.py --model models/digits.keras --per-class 30

Prints accuracy on held-out examples of the style and on MNIST test, before and after
`scripts/train.py --finetune --extra-data DIR`, and writes them as JSON (--report).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reader.classify import DigitClassifier
from reader.training.mnist import as_network_input, load_mnist

SCALE = 4  # draw at 112x112, then back to 28x28


def _ink_extent(big: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(big > 100)
    return ys, xs


def restyle(image28: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit (28x28 uint8, white on black) in the drawn style."""
    big = cv2.resize(image28, (28 * SCALE, 28 * SCALE), interpolation=cv2.INTER_CUBIC)
    ys, xs = _ink_extent(big)
    if ys.size == 0:
        return image28
    top, bottom = ys.min(), ys.max()
    height = bottom - top + 1
    pen = int(rng.integers(7, 10))
    if label == 1:
        # The flag: from the top of the stem down to the left, a third of the height or more.
        top_x = int(xs[ys <= top + 2].mean())
        length = height * rng.uniform(0.35, 0.5)
        angle = np.deg2rad(rng.uniform(25, 45))  # below the horizontal
        end = (int(top_x - length * np.cos(angle)), int(top + length * np.sin(angle)))
        cv2.line(big, (top_x, int(top)), end, 255, pen, cv2.LINE_AA)
        if rng.random() < 0.6:  # a foot
            base_x = int(xs[ys >= bottom - 2].mean())
            half = int(height * rng.uniform(0.15, 0.25))
            cv2.line(big, (base_x - half, int(bottom)), (base_x + half, int(bottom)), 255, pen,
                     cv2.LINE_AA)
    elif label == 7:
        # A bar across the stem at mid height.
        row = int(top + height * rng.uniform(0.45, 0.6))
        on_row = xs[np.abs(ys - row) <= 2]
        centre = int(on_row.mean()) if on_row.size else int(xs.mean())
        half = int(height * rng.uniform(0.18, 0.28))
        cv2.line(big, (centre - half, row), (centre + half, row + int(rng.integers(-4, 5))), 255,
                 pen, cv2.LINE_AA)
    elif label == 4:
        # Closed at the top: join the tops of the two strokes.
        upper = ys <= top + height * 0.15
        left_x, right_x = int(xs[upper].min()), int(xs[upper].max())
        if right_x - left_x > pen * 2:
            cv2.line(big, (left_x, int(top)), (right_x, int(top)), 255, pen, cv2.LINE_AA)
        else:  # one stroke at the top: draw the other
            cv2.line(big, (left_x, int(top)), (int(xs.max()) - pen, int(top + height * 0.4)),
                     255, pen, cv2.LINE_AA)
    big = cv2.dilate(big, np.ones((3, 3), np.uint8))  # a heavier pen for every digit
    return cv2.resize(big, (28, 28), interpolation=cv2.INTER_AREA)


def styled_set(images: np.ndarray, labels: np.ndarray, per_class: int, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` digits of each class, restyled (uint8 28x28, white on black)."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == d), per_class, replace=False)
                             for d in range(10)])
    return (np.stack([restyle(images[i], int(labels[i]), rng) for i in picked]),
            labels[picked])


def accuracy(model_path: Path, images: np.ndarray, labels: np.ndarray,
             only: int | None = None) -> float:
    """Digit-class accuracy (%) of the runtime model on reader-normalised images (of one
    class with `only`)."""
    if only is not None:
        images, labels = images[labels == only], labels[labels == only]
    probs = DigitClassifier(model_path).predict(as_network_input(images, True))
    return float((probs[:, :10].argmax(1) == labels).mean() * 100)


def figures(model_path: Path, held_x, held_y, mnist) -> dict:
    """Style accuracy overall and on the restyled classes, and MNIST test accuracy."""
    return {"style_pct": accuracy(model_path, held_x, held_y),
            **{f"style_{d}s_pct": accuracy(model_path, held_x, held_y, d) for d in (1, 4, 7)},
            "mnist_test_pct": accuracy(model_path, mnist.x_test, mnist.y_test)}


def _describe(f: dict) -> str:
    return (f"style {f['style_pct']:.2f} % (1s {f['style_1s_pct']:.1f}, 4s"
            f" {f['style_4s_pct']:.1f}, 7s {f['style_7s_pct']:.1f}), MNIST test"
            f" {f['mnist_test_pct']:.2f} %")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "models" / "digits.keras"),
                   help="the .keras model to start from (its .tflite must sit beside it)")
    p.add_argument("--per-class", type=int, default=30, help="fine-tuning examples per class")
    p.add_argument("--held-out", type=int, default=200, help="held-out examples per class")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", default=None, help="write the figures as JSON here")
    p.add_argument("--train-args", default="",
                   help="more arguments for scripts/train.py (e.g. '--limit 2000 --epochs 1')")
    args = p.parse_args(argv)
    start = Path(args.model)
    mnist = load_mnist()
    teach_x, teach_y = styled_set(mnist.x_train, mnist.y_train, args.per_class, args.seed)
    held_x, held_y = styled_set(mnist.x_test, mnist.y_test, args.held_out, args.seed + 1)

    before = figures(start.with_suffix(".tflite"), held_x, held_y, mnist)
    print(f"before: {_describe(before)}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "style"
        for i, (image, label) in enumerate(zip(teach_x, teach_y)):
            (folder / str(label)).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / str(label) / f"{i}.png"), image)
        out = Path(tmp) / "tuned"
        started = time.perf_counter()
        cmd = [sys.executable, str(REPO / "scripts" / "train.py"), "--quiet", "--finetune",
               str(start), "--extra-data", str(folder), "--output", str(out),
               *args.train_args.split()]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            return proc.returncode
        seconds = time.perf_counter() - started
        after = figures(out.with_suffix(".tflite"), held_x, held_y, mnist)
    print(f"after:  {_describe(after)}  (fine-tuning took {seconds:.0f} s)")
    report = {"model": str(start), "per_class": args.per_class, "held_out_per_class":
              args.held_out, "before": before, "after": after, "finetune_seconds":
              round(seconds), "command": " ".join(["python scripts/handwriting_experiment.py",
                                                   *(argv or sys.argv[1:])])}
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
