"""Measure how well the reader reads, next to the usual approach, Tesseract and RapidOCR.

Sets: generated still images and videos (made here with `reader.scenes` for --seed, or a folder
written by scripts/make_scenes.py), scored per set and per scene tag; and the real photos in
../shared/eval/photos (truth text only). Per set and reader: numbers read exactly %, numbers read
whole % (exactly and as one number), digit accuracy % (1 - character error rate), spurious digits
per frame, and frames per second (time inside each reader's read call). Also the MNIST test
accuracy of the model file. Harness: reader/eval/harness.py; scoring: reader/eval/scoring.py.

Usage:
  python scripts/evaluate.py                                # fresh 20 images + 4 videos, photos
  python scripts/evaluate.py --seed 7 --generate 120,6 --keep-scenes runs/scenes-7
  python scripts/evaluate.py --scenes runs/scenes --md runs/eval.md --json runs/eval.json
  python scripts/evaluate.py --generate 2,1 --video-frames 5 --limit-photos 2 --no-baseline

The usual approach needs models/seed.keras (and imports TensorFlow); Tesseract needs the
`tesseract` command; RapidOCR the optional extra `pip install 'digit-reader[compare]'`. Each is
skipped, with the reason in the report, when missing or switched off.
Progress goes to stderr; the report to stdout, --md and --json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from reader.errors import UserError
from reader.eval.harness import Method, evaluate, mnist_test_accuracy, report_markdown
from reader.eval.peers import NAMES, PeerPaths, build_peer, unavailable
from reader.eval.report import command_line, machine_info, write_text
from reader.eval.scene_sets import find_scenes, generate_scenes, read_photo_truth
from reader.progress import progress

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO_ROOT.parent / "shared" / "eval" / "photos"
COMPARED = ("baseline", "tesseract", "rapidocr")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = PeerPaths()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=Path, help="folder written by scripts/make_scenes.py")
    parser.add_argument("--generate", default="20,4", metavar="N,M",
                        help="without --scenes: generate N images and M videos (default 20,4)")
    parser.add_argument("--seed", type=int, default=1234, help="scene generator seed")
    parser.add_argument("--video-frames", type=int,
                        help="frames per generated video (default: make_scenes' own range)")
    parser.add_argument("--keep-scenes", type=Path, help="write the generated scenes here")
    parser.add_argument("--no-generated", action="store_true", help="skip the generated sets")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                        help="folder with real photos and truth.tsv (default %(default)s)")
    parser.add_argument("--no-photos", action="store_true", help="skip the real photos")
    parser.add_argument("--model", type=Path, default=defaults.model, help="reader model file")
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--seed-model", type=Path, default=defaults.seed_model,
                        help="Keras network of the usual approach (default %(default)s)")
    for name in COMPARED:
        parser.add_argument(f"--no-{name}", action="store_true", help=f"skip {NAMES[name]}")
    parser.add_argument("--limit-images", type=int, help="read at most this many images")
    parser.add_argument("--limit-videos", type=int, help="read at most this many videos")
    parser.add_argument("--limit-frames", type=int, help="read at most this many frames a video")
    parser.add_argument("--limit-photos", type=int, help="read at most this many photos")
    parser.add_argument("--limit-mnist", type=int, help="score at most this many MNIST images")
    parser.add_argument("--md", type=Path, help="also write the markdown report here")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--data", type=Path, help="folder with the MNIST IDX files"
                        " (default: ../shared/data/mnist, else Keras' download)")
    return parser.parse_args(argv)


def parse_generate(text: str) -> tuple[int, int]:
    """'20,4' -> (20, 4)."""
    try:
        images, videos = (int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--generate {text}: expected N,M (images,videos), e.g. 20,4") from None
    return images, videos


def build_methods(args: argparse.Namespace) -> tuple[list[Method], dict[str, str]]:
    """The reader plus whichever comparisons can run; reasons for those that cannot."""
    paths = PeerPaths(model=args.model, seed_model=args.seed_model)
    if not args.model.is_file():
        raise UserError(f"{args.model}: model not found; train it (scripts/train.py) or pass"
                        " --model PATH")
    methods = [Method(build_peer("reader", paths, args.min_confidence))]
    skipped = {}
    for name in COMPARED:
        reason = ("switched off (--no-" + name + ")" if getattr(args, f"no_{name}")
                  else unavailable(name, paths))
        if reason is not None:
            skipped[name] = reason
            progress(f"skipping {NAMES[name]}: {reason}")
            continue
        progress(f"loading {NAMES[name]}")
        methods.append(Method(build_peer(name, paths)))
    return methods, skipped


def peer_versions(methods: list[Method]) -> dict[str, str]:
    """Versions of the external readers that ran."""
    from reader.eval.rapidocr import rapidocr_version
    from reader.eval.tesseract import tesseract_version

    found = {"tesseract": lambda: f"{tesseract_version()}, `--psm 11`, digits whitelist,"
                                  " one thread",
             "rapidocr": lambda: f"rapidocr-onnxruntime {rapidocr_version()}, default models,"
                                 " digits kept from each line"}
    return {m.name: found[m.name]() for m in methods if m.name in found}


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
                scenes_dir = args.keep_scenes or Path(tmp) / "scenes"
                progress(f"generating {images} images and {videos} videos into {scenes_dir}")
                generate_scenes(scenes_dir, images, videos, args.seed, args.video_frames,
                                progress=progress, data_dir=args.data)
                scenes_source = (f"reader.scenes, seed {args.seed} (= scripts/make_scenes.py"
                                 f" --images {images} --videos {videos} --seed {args.seed}"
                                 + (f" --frames-min {args.video_frames} --frames-max"
                                    f" {args.video_frames}" if args.video_frames else "") + ")")
            # Find every input first, so a wrong path fails before any model loads.
            images, videos = find_scenes(scenes_dir) if scenes_dir is not None else ([], [])
            images, videos = images[:args.limit_images], videos[:args.limit_videos]
            photos = [] if args.no_photos else read_photo_truth(args.photos)[:args.limit_photos]
            methods, skipped = build_methods(args)
            results = evaluate(methods, images, videos, photos,
                               {"scenes": scenes_source, "photos": str(args.photos)},
                               args.limit_frames, progress)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    progress("scoring the model on the MNIST test set")
    report = {"command": command_line(), "machine": machine_info(),
              "mnist": mnist_test_accuracy(args.model, args.limit_mnist, args.data), **results,
              "versions": peer_versions(methods), "skipped": skipped,
              "timing": "frames per second = frames / time inside the read call"}
    markdown = report_markdown(report)
    print(markdown)
    if args.md:
        write_text(args.md, markdown)
    if args.json:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
