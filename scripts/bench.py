"""Time the reader stage by stage, its start-up, and the usual approach on the same frame.

Frames are pages of MNIST test digits drawn in dark ink on lit paper (0, 10 and 50 digits at
640x480 and 1280x720), JPEG-encoded as a camera or video file would deliver them. Each repeat
runs the same stage functions `reader.pipeline.Reader.read` calls, in the same order, and times
each one:
  decode     cv2.imdecode of the JPEG frame
  threshold  grayscale conversion + threshold.ink_mask
  contours   contours.find_digit_boxes
  patches    patches.make_patches
  inference  DigitClassifier.predict (all of a frame's patches in one call)
  grouping+tracking  Digit objects, DigitTracker.update, confidence filter, numbers.group_numbers
  overlay    overlay.draw_overlay
Also: Reader.read as one call (a check that the stages add up), the start-up time of a fresh
process to its first annotated frame and that process's peak memory, ten patches in one call to
the exported model, and the usual approach (reader/eval/baseline.py) on the 640x480 10-digit
frame, as a per-frame time ratio.

Usage:
  python scripts/bench.py                      # 200 repeats, about a minute
  python scripts/bench.py --repeats 3 --no-baseline --json runs/bench.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from reader.eval.report import command_line, machine_info, markdown_table, write_text
from reader.progress import progress

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO_ROOT / "models" / "digits.tflite"
DEFAULT_SEED_MODEL = REPO_ROOT / "models" / "seed.keras"
RESOLUTIONS = ((640, 480), (1280, 720))
DIGIT_COUNTS = (0, 10, 50)
STAGES = ("decode", "threshold", "contours", "patches", "inference", "grouping_tracking",
          "overlay")
JPEG_QUALITY = 90
DIGITS_PER_LINE = 10
NUMBER_LENGTHS = (3, 2, 4, 1)  # cycled to split a line into numbers
MNIST_INK_BOX = 20 / 28        # MNIST digits fill the central 20x20 of 28x28


# ---------------------------------------------------------------- frames


def draw_page(width: int, height: int, n_digits: int, glyphs: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """A BGR page with `n_digits` MNIST digits in lines of numbers, on unevenly lit paper."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 0.85 + 0.15 * (xx / width) * (1 - 0.5 * yy / height)  # a lamp to one side
    paper = 215 * light + rng.normal(0, 3, (height, width)).astype(np.float32)
    ink = np.zeros((height, width), np.float32)
    if n_digits:
        per_line = min(n_digits, DIGITS_PER_LINE)
        n_lines = math.ceil(n_digits / per_line)
        # Height so that the widest line fits 80% of the width and the lines 80% of the height.
        digit_h = min(0.8 * width / (per_line * 1.0 + 3 * 1.2), 0.8 * height / (n_lines * 2.0),
                      0.25 * height)
        cell = round(digit_h / MNIST_INK_BOX)
        step_x = int(1.0 * digit_h)  # MNIST digits are narrower than tall: a clear gap
        y = int(0.1 * height)
        placed = 0
        for _ in range(n_lines):
            x = int(0.1 * width)
            in_line = min(per_line, n_digits - placed)
            lengths_left = list(NUMBER_LENGTHS)
            in_number = 0
            for _ in range(in_line):
                glyph = glyphs[placed % len(glyphs)].astype(np.float32) / 255.0
                alpha = cv2.resize(glyph, (cell, cell), interpolation=cv2.INTER_LINEAR)
                region = ink[y:y + cell, x:x + cell]
                np.maximum(region, alpha[:region.shape[0], :region.shape[1]], out=region)
                placed += 1
                in_number += 1
                x += step_x
                if in_number == lengths_left[0]:
                    lengths_left = lengths_left[1:] + lengths_left[:1]
                    in_number = 0
                    x += int(1.2 * digit_h)  # the gap between numbers
            y += int(2.0 * digit_h)
    gray = np.clip(paper * (1 - 0.8 * ink), 0, 255).astype(np.uint8)
    # A faint colour cast, as a webcam gives.
    return cv2.merge([gray, np.clip(gray.astype(np.int16) + 4, 0, 255).astype(np.uint8),
                      np.clip(gray.astype(np.int16) + 8, 0, 255).astype(np.uint8)])


def test_glyphs(data_dir: Path | None = None) -> np.ndarray:
    """MNIST test digits (never training data), shuffled with a fixed seed."""
    from reader.training.mnist import load_mnist

    x_test = load_mnist(data_dir).x_test
    return x_test[np.random.default_rng(0).permutation(len(x_test))[:200]]


# ---------------------------------------------------------------- timing


def summary_ms(samples_ms: list[float]) -> tuple[float, float]:
    """(median, p90) of a list of times in ms."""
    values = np.asarray(samples_ms, np.float64)
    return float(np.median(values)), float(np.percentile(values, 90))


def time_stages(jpeg: bytes, model_path: Path, repeats: int) -> dict:
    """Per-stage times over `repeats` runs of the Reader's stages on one encoded frame."""
    from reader.classify import DigitClassifier
    from reader.contours import find_digit_boxes
    from reader.detections import Digit, FrameResult
    from reader.numbers import group_numbers
    from reader.overlay import draw_overlay
    from reader.patches import make_patches
    from reader.pipeline import DEFAULT_MAX_CANDIDATES, DEFAULT_MIN_CONFIDENCE
    from reader.threshold import ink_mask
    from reader.tracking import DigitTracker

    classifier = DigitClassifier(model_path)
    tracker = DigitTracker()
    encoded = np.frombuffer(jpeg, np.uint8)
    samples: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "total")}
    found_digits = 0
    for _ in range(repeats + 1):  # the first run warms caches and allocates; not counted
        t0 = time.perf_counter()
        frame = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        t1 = time.perf_counter()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        mask = ink_mask(gray, 0.0)
        t2 = time.perf_counter()
        boxes_xywh = find_digit_boxes(mask, DEFAULT_MAX_CANDIDATES)
        t3 = time.perf_counter()
        patches = make_patches(gray, mask, boxes_xywh)
        t4 = time.perf_counter()
        probs = classifier.predict(patches)
        t5 = time.perf_counter()
        labels, confidences = probs.argmax(axis=1), probs.max(axis=1)
        digits = [Digit(int(label), float(conf), (int(x), int(y), int(w), int(h)), row)
                  for label, conf, (x, y, w, h), row
                  in zip(labels, confidences, boxes_xywh, probs)]
        digits = [d for d in tracker.update(digits) if d.confidence >= DEFAULT_MIN_CONFIDENCE]
        numbers = group_numbers(digits)
        t6 = time.perf_counter()
        draw_overlay(frame, FrameResult(digits, numbers, (t6 - t1) * 1000.0, mask, patches))
        t7 = time.perf_counter()
        times = (t0, t1, t2, t3, t4, t5, t6, t7)
        for stage, start, end in zip(STAGES, times, times[1:]):
            samples[stage].append((end - start) * 1000.0)
        samples["total"].append((t7 - t0) * 1000.0)
        found_digits = len(boxes_xywh)
    for values in samples.values():
        del values[0]
    medians, p90s = {}, {}
    for stage, values in samples.items():
        medians[stage], p90s[stage] = (round(v, 3) for v in summary_ms(values))
    return {"found_digits": found_digits, "median_ms": medians, "p90_ms": p90s,
            "fps": round(1000.0 / float(np.mean(samples["total"])), 1)}


def time_call(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, p90) ms of `call` over `repeats` runs after one warm-up run."""
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    return summary_ms(samples)


STARTUP_SCRIPT = """
import sys
import cv2
from reader.overlay import draw_overlay
from reader.pipeline import Reader
frame = cv2.imread(sys.argv[1])
result = Reader(sys.argv[2]).read(frame)
draw_overlay(frame, result)
print(len(result.digits))
"""


def time_startup(image_path: Path, model_path: Path) -> dict:
    """Wall time of a fresh process from start to exit after writing its first annotated frame,
    and its peak memory. Uses the `reader.cli` command when it exists."""
    annotated_path = image_path.with_name("annotated.png")
    if (REPO_ROOT / "reader" / "cli.py").is_file():
        command = [sys.executable, "-m", "reader.cli", str(image_path), "--no-display", "--json",
                   "--output", str(annotated_path), "--model", str(model_path)]
        method = "python -m reader.cli IMG --no-display --json --output OUT.png"
    else:
        command = [sys.executable, "-c", STARTUP_SCRIPT, str(image_path), str(model_path)]
        method = "python -c 'Reader(); read(); draw_overlay()' (reader/cli.py not present)"
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=out)
        # wait4 gives this child's own peak memory (RUSAGE_CHILDREN would mix all children).
        _, status, usage = os.wait4(child.pid, 0)
        elapsed_s = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"start-up run failed ({' '.join(command)}):\n{output[-1000:]}")
    # ru_maxrss is in kilobytes on Linux.
    return {"method": method, "first_frame_s": round(elapsed_s, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1)}


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200, help="runs per configuration")
    parser.add_argument("--baseline-repeats", type=int, default=20,
                        help="runs of the usual approach (slow: one predict per digit)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="reader model file")
    parser.add_argument("--seed-model", type=Path, default=DEFAULT_SEED_MODEL,
                        help="Keras network of the usual approach")
    parser.add_argument("--no-baseline", action="store_true", help="skip the usual approach")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--data", type=Path, help="folder with the MNIST IDX files"
                        " (default: ../shared/data/mnist, else Keras' download)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.baseline_repeats < 1:
        parser.error("--repeats and --baseline-repeats must be at least 1")
    if not args.model.is_file():
        parser.error(f"{args.model}: model not found; train it (scripts/train.py) or pass --model")
    return args


def markdown_report(report: dict) -> str:
    """The bench results as markdown tables."""
    machine = report["machine"]
    machine_line = (f"Machine: {machine['cpu']}, {machine['cores']} cores; Python"
                    f" {machine['python']}, OpenCV {machine['opencv']}")
    lines = ["# digit-reader benchmark", "", machine_line, "", f"Command: `{report['command']}`", "",
             f"Per-stage latency, median / p90 ms over {report['repeats']} repeats:", ""]
    rows = []
    for row in report["stages"]:
        cells = [f"{row['median_ms'][s]:.2f} / {row['p90_ms'][s]:.2f}" for s in (*STAGES, "total")]
        rows.append([f"{row['width']}x{row['height']}", row["digits"], row["found_digits"], *cells,
                     row["fps"], row["reader_read_median_ms"]])
    header = ["frame", "digits", "found", *STAGES, "total", "frames / s", "Reader.read median ms"]
    lines += [markdown_table(header, rows), ""]
    startup, batch = report["startup"], report["batch_inference"]
    lines.append(f"- Start-up to first annotated frame: {startup['first_frame_s']:.2f} s, peak"
                 f" memory {startup['peak_rss_mb']:.0f} MB ({startup['method']})")
    lines.append(f"- {batch['patches']} patches in one call to `{batch['model']}`:"
                 f" {batch['median_ms']:.3f} ms median, {batch['p90_ms']:.3f} ms p90")
    baseline = report["baseline"]
    if "skipped" in baseline:
        lines.append(f"- Usual approach: skipped ({baseline['skipped']})")
    else:
        lines.append(f"- Usual approach, 640x480 with 10 digits: {baseline['median_ms']:.1f} ms"
                     f" median per frame vs the reader's {baseline['reader_median_ms']:.2f} ms"
                     f" (Reader.read): {baseline['ratio']:.0f}x slower"
                     f" ({baseline['repeats']} repeats)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    from reader.classify import DigitClassifier
    from reader.pipeline import Reader

    glyphs = test_glyphs(args.data)
    rng = np.random.default_rng(0)
    stage_rows, frames_by_config = [], {}
    for width, height in RESOLUTIONS:
        for n_digits in DIGIT_COUNTS:
            frame = draw_page(width, height, n_digits, glyphs, rng)
            frames_by_config[(width, height, n_digits)] = frame
            ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            assert ok, "JPEG encoding failed"
            progress(f"stages at {width}x{height} with {n_digits} digits")
            row = {"width": width, "height": height, "digits": n_digits,
                   **time_stages(jpeg.tobytes(), args.model, args.repeats)}
            reader = Reader(args.model, track=True)  # as the stage timing, with tracking
            row["reader_read_median_ms"] = round(
                time_call(lambda r=reader, f=frame: r.read(f), min(args.repeats, 50))[0], 3)
            stage_rows.append(row)

    reference = frames_by_config[(640, 480, 10)]
    classifier = DigitClassifier(args.model)
    reference_result = Reader(args.model).read(reference)
    patches = reference_result.patches
    if patches is None or len(patches) < 10:
        patches = np.zeros((10, 28, 28), np.float32)  # keep the batch size fixed at ten
    patches = np.ascontiguousarray(patches[:10])
    median_ms, p90_ms = time_call(lambda: classifier.predict(patches), args.repeats)
    batch = {"model": args.model.name, "patches": 10, "median_ms": round(median_ms, 4),
             "p90_ms": round(p90_ms, 4)}

    progress("start-up of a fresh process")
    with tempfile.TemporaryDirectory(prefix="digit-bench-") as tmp:
        image_path = Path(tmp) / "page.png"
        cv2.imwrite(str(image_path), reference)
        startup = time_startup(image_path, args.model)

    if args.no_baseline:
        baseline = {"skipped": "switched off (--no-baseline)"}
    elif not args.seed_model.is_file():
        baseline = {"skipped": f"{args.seed_model} not found (train the seed network first)"}
    else:
        progress(f"usual approach with {args.seed_model} (TensorFlow)")
        from reader.eval.baseline import BaselineReader

        usual = BaselineReader(args.seed_model)
        usual_ms = time_call(lambda: usual.read(reference), args.baseline_repeats)[0]
        reader = Reader(args.model)
        reader_ms = time_call(lambda: reader.read(reference), args.baseline_repeats)[0]
        baseline = {"repeats": args.baseline_repeats, "median_ms": round(usual_ms, 3),
                    "reader_median_ms": round(reader_ms, 3), "ratio": round(usual_ms / reader_ms, 1),
                    "digits_found": len(usual.read(reference)["digits"])}

    report = {"command": command_line(), "machine": machine_info(), "repeats": args.repeats,
              "stages": stage_rows, "batch_inference": batch, "startup": startup,
              "baseline": baseline}
    print(markdown_report(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
