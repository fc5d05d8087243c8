"""digit-reader: read handwritten numbers from a webcam, a video, a photo or a folder of photos.

Usage:
  digit-reader                      the default webcam, live
  digit-reader --demo               the bundled demo clip (no camera needed)
  digit-reader page.jpg             a photo (or a video, a folder of photos, a camera index,
                                    a stream URL)
  digit-reader clip.mp4 --no-display --json > readings.jsonl
  digit-reader photos/ --no-display --csv numbers.csv
  digit-reader clip.mp4 --output annotated.mp4

A video plays in the window at its own frame rate (the demo loops; other videos stay on the
last frame); without a window, and with --output, every frame is read as fast as possible.

Keys (in the window):
  q, Esc   quit            space   pause / resume      .   one frame on (paused)
  any other key: next photo       s   snapshot (PNG + JSON)
  t        teach: save the patches under --teach-dir, one folder per label
  d        debug view      c   captions on every digit   + / -   threshold sensitivity
  h        help overlay

Exit codes: 0 ok, 1 runtime failure (camera lost, disk full), 2 bad input or usage,
130 interrupted (Ctrl-C, SIGTERM), 141 stdout closed early (e.g. `| head`); outputs written
so far are kept whole.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import logging
import os
import signal
import sys
from pathlib import Path

from reader.errors import UserError

DEMO_CLIP = Path(str(importlib.resources.files("reader") / "assets" / "demo.mp4"))
EXIT_INTERRUPTED = 130
EXIT_STDOUT_CLOSED = 141  # 128 + SIGPIPE: what a shell reports for `yes | head`
DEFAULT_TEACH_DIR = "my-digits"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digit-reader", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", default="0",
                        help="camera index, video, photo, folder of photos or stream URL"
                             " (default: camera 0)")
    parser.add_argument("--demo", action="store_true", help="read the bundled demo clip")
    parser.add_argument("--model", metavar="PATH",
                        help="exported .tflite digit model (default: models/digits.tflite)")
    parser.add_argument("--min-confidence", type=float, default=0.5, metavar="P",
                        help="do not report digits below this confidence (default: 0.5)")
    parser.add_argument("--sensitivity", type=float, default=0.0, metavar="S",
                        help="threshold sensitivity in [-1, 1]; higher finds fainter ink")
    parser.add_argument("--no-display", action="store_true", help="no window (headless)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per frame on stdout, and nothing else there")
    parser.add_argument("--output", metavar="PATH",
                        help="write the annotated video (.mp4: H.264 when OpenCV has it, else"
                             " mp4v; .avi), photo (.png, .jpg), or folder of photos")
    parser.add_argument("--csv", metavar="PATH",
                        help="write one row per number read: source, frame, text, confidence,"
                             " x, y, w, h")
    parser.add_argument("--snapshots", metavar="DIR", default=".",
                        help="where the s key saves snapshots (default: current folder)")
    parser.add_argument("--teach-dir", metavar="DIR", default=DEFAULT_TEACH_DIR,
                        help="where the t key saves the patches, DIR/0 ... DIR/9 by predicted"
                             " label, for scripts/train.py --extra-data DIR --finetune"
                             f" (default: ./{DEFAULT_TEACH_DIR})")
    parser.add_argument("--list-cameras", action="store_true",
                        help="list camera indices and exit")
    parser.add_argument("--verbose", action="store_true", help="log details to stderr")
    return parser


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, and turn user errors into one line and an exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="digit-reader: %(message)s", stream=sys.stderr)
    # SIGTERM unwinds like Ctrl-C, so every sink closes its file whole; so does SIGINT even
    # when a shell started us in the background with SIGINT ignored (`kill -INT` still stops).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # keep FFmpeg chatter off stderr
    try:
        if args.list_cameras:
            from reader.sources import list_cameras
            cameras = list_cameras()
            print("cameras: " + (", ".join(map(str, cameras)) if cameras else "none found"))
            return 0
        if args.demo:
            args.source = str(DEMO_CLIP)
        if not 0.0 <= args.min_confidence <= 1.0:
            raise UserError(f"--min-confidence {args.min_confidence}: give a value in [0, 1]")
        if not -1.0 <= args.sensitivity <= 1.0:
            raise UserError(f"--sensitivity {args.sensitivity}: give a value in [-1, 1]")
        from reader.app import run  # deferred: `--help` stays instant
        return run(args)
    except UserError as exc:
        print(f"digit-reader: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("digit-reader: interrupted; outputs written so far are kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `--json | head`: the reader of our output has gone
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        with contextlib.suppress(OSError, ValueError):
            print("digit-reader: stdout was closed, stopping; outputs written so far are kept",
                  file=sys.stderr)
        return EXIT_STDOUT_CLOSED


if __name__ == "__main__":
    sys.exit(main())
