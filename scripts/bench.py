"""Time the reader stage by stage, its start-up, and every comparison reader on the same frames.

Frames are pages of MNIST test digits drawn in dark ink on lit paper (0, 10 and 50 digits at
640x480 and 1280x720; reader/eval/pages.py).
  1. Per stage: each repeat decodes the JPEG-encoded frame, calls `Reader.read` (with tracking)
     and draws the overlay; the stage times are the ones `Reader.read` records itself
     (`FrameResult.stage_ms`), so the benchmark times exactly the product.
  2. Start-up of `python -m reader.cli` to its first annotated frame, and its peak memory;
     ten patches in one call to the exported model.
  3. Side by side, each reader in a fresh process of its own, on the same 10- and 50-digit
     frames: digit-reader; its pipeline with the Keras model and `predict_on_batch`; the usual
     approach (one `model.predict` per digit) and the same with `predict_on_batch`; RapidOCR;
     Tesseract. Per frame median ms, start-up to the first read, peak memory
     (reader/eval/speed.py). Readers that cannot run here are skipped with the reason.

Usage:
  python scripts/bench.py                         # a few minutes; Keras and OCR peers are slow
  python scripts/bench.py --repeats 3 --readers reader,tesseract --json runs/bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from reader.eval.pages import bench_frames
from reader.eval.peers import NAMES, PeerPaths
from reader.eval.report import command_line, machine_info, markdown_table, write_text
from reader.eval.speed import compare_readers, time_call, time_stages, time_startup
from reader.progress import progress

RESOLUTIONS = ((640, 480), (1280, 720))
DIGIT_COUNTS = (0, 10, 50)
COMPARE_DIGIT_COUNTS = (10, 50)
SLOW_READERS = ("baseline", "rapidocr", "tesseract")  # a second or more per 50-digit frame


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = PeerPaths()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=200, help="runs per frame, stage timing")
    parser.add_argument("--compare-repeats", type=int, default=30,
                        help="runs per frame for the fast readers in the comparison")
    parser.add_argument("--slow-repeats", type=int, default=5,
                        help=f"runs per frame for {', '.join(SLOW_READERS)}")
    parser.add_argument("--readers", default=",".join(NAMES),
                        help="comparison readers, comma-separated, or 'none' (default: all:"
                             " %(default)s)")
    parser.add_argument("--model", type=Path, default=defaults.model, help="reader model file")
    parser.add_argument("--keras-model", type=Path, default=defaults.keras_model,
                        help="the reader's network as Keras, for the predict_on_batch peer")
    parser.add_argument("--seed-model", type=Path, default=defaults.seed_model,
                        help="Keras network of the usual approach")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--data", type=Path, help="folder with the MNIST IDX files"
                        " (default: ../shared/data/mnist, else Keras' download)")
    args = parser.parse_args(argv)
    if min(args.repeats, args.compare_repeats, args.slow_repeats) < 1:
        parser.error("--repeats, --compare-repeats and --slow-repeats must be at least 1")
    if not args.model.is_file():
        parser.error(f"{args.model}: model not found; train it (scripts/train.py) or pass --model")
    args.readers = [] if args.readers == "none" else [n for n in args.readers.split(",") if n]
    unknown = [n for n in args.readers if n not in NAMES]
    if unknown:
        parser.error(f"--readers: unknown {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return args


def markdown_report(report: dict) -> str:
    """The bench results as markdown tables."""
    machine = report["machine"]
    lines = ["# digit-reader benchmark", "",
             (f"Machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']},"
             f" OpenCV {machine['opencv']}; load average {report['load_average']}"), "",
             f"Command: `{report['command']}`", "",
             (f"Per-stage latency, median / p90 ms over {report['repeats']} repeats (stages"
             " between decode and overlay as `Reader.read` times itself, with tracking):"), ""]
    stages = list(report["stages"][0]["median_ms"])
    rows = [[f"{row['width']}x{row['height']}", row["digits"], row["found_digits"],
             *(f"{row['median_ms'][s]:.2f} / {row['p90_ms'][s]:.2f}" for s in stages),
             row["fps"]] for row in report["stages"]]
    lines += [markdown_table(["frame", "digits", "found", *stages, "frames / s"], rows), ""]
    startup, batch = report["startup"], report["batch_inference"]
    lines.append(f"- Start-up to first annotated frame: {startup['first_frame_s']:.2f} s, peak"
                 f" memory {startup['peak_rss_mb']:.0f} MB ({startup['method']})")
    lines.append(f"- {batch['patches']} patches in one call to `{batch['model']}`:"
                 f" {batch['median_ms']:.3f} ms median, {batch['p90_ms']:.3f} ms p90")
    compare = report["compare"]
    if compare:
        keys = report["compare_frames"]
        header = ["reader", *(f"{k.rsplit('x', 1)[0]}, {k.rsplit('x', 1)[1]} digits, ms"
                              for k in keys), "start-up to first read, s", "peak memory, MB"]
        lines += ["", ("Side by side on the same frames, each reader in a fresh process (median"
                  " ms per frame, digits found in brackets where they differ from the truth):"),
                  ""]
        rows = []
        for name, result in compare.items():
            if "skipped" in result:
                continue
            cells = []
            for key in keys:
                timing, truth = result["frames"][key], int(key.rsplit("x", 1)[1])
                found = timing["digits_found"]
                cells.append(f"{timing['median_ms']:.1f}"
                             + (f" ({found})" if found != truth else ""))
            rows.append([NAMES[name], *cells, f"{result['startup_s']:.2f}",
                         f"{result['peak_rss_mb']:.0f}"])
        lines.append(markdown_table(header, rows))
        for name, result in compare.items():
            if "skipped" in result:
                lines.append(f"- Skipped {NAMES[name]}: {result['skipped']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    args = parse_args(argv)
    from reader.classify import DigitClassifier
    from reader.pipeline import Reader

    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    frames = bench_frames(RESOLUTIONS, DIGIT_COUNTS, data_dir=args.data)
    stage_rows = []
    for (width, height, n_digits), frame in frames.items():
        progress(f"stages at {width}x{height} with {n_digits} digits")
        stage_rows.append({"width": width, "height": height, "digits": n_digits,
                           **time_stages(frame, args.model, args.repeats)})

    patches = Reader(args.model).read(frames[(640, 480, 10)]).patches
    if patches is None or len(patches) < 10:
        patches = np.zeros((10, 28, 28), np.float32)  # keep the batch size fixed at ten
    patches = np.ascontiguousarray(patches[:10])
    classifier = DigitClassifier(args.model)
    median_ms, p90_ms = time_call(lambda: classifier.predict(patches), args.repeats)
    batch = {"model": args.model.name, "patches": 10, "median_ms": round(median_ms, 4),
             "p90_ms": round(p90_ms, 4)}

    progress("start-up of a fresh process")
    with tempfile.TemporaryDirectory(prefix="digit-bench-") as tmp:
        image_path = Path(tmp) / "page.png"
        cv2.imwrite(str(image_path), frames[(640, 480, 10)])
        startup = time_startup(image_path, args.model)

    compare_keys = [(w, h, n) for w, h in RESOLUTIONS for n in COMPARE_DIGIT_COUNTS]
    compare = compare_readers(
        {key: frames[key] for key in compare_keys}, args.readers,
        PeerPaths(args.model, args.keras_model, args.seed_model),
        lambda name: args.slow_repeats if name in SLOW_READERS else args.compare_repeats,
        progress)

    report = {"command": command_line(), "machine": machine_info(), "load_average": load_before,
              "repeats": args.repeats, "stages": stage_rows, "batch_inference": batch,
              "startup": startup, "compare_frames": [f"{w}x{h}x{n}" for w, h, n in compare_keys],
              "compare": compare}
    print(markdown_report(report))
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
