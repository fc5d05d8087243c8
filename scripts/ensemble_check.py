#!/usr/bin/env python3
"""Would distilling these models into one help? Their MNIST test accuracy alone and together.

Distillation (`scripts/train.py --teachers ...`) teaches one network what a small ensemble says,
so it can gain at most what the ensemble gains over its members: when independently trained
models miss the same digits, averaging them fixes none. This reads the MNIST test set with each
model file (the runtime .tflite, as the reader does, with the input preparation its card names),
then with their averaged probabilities, and counts the errors they share.

Usage:
  python scripts/ensemble_check.py models/digits.tflite runs/seed1/digits.tflite ...
  python scripts/ensemble_check.py A.tflite B.tflite --json ensemble.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from reader.classify import NUM_CLASSES
from reader.errors import UserError
from reader.eval.harness import mnist_test_probabilities


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help=".tflite model files")
    parser.add_argument("--data", type=Path, help="MNIST folder (default: as scripts/train.py)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    try:
        report = ensemble_report(args.models, args.data)
    except (UserError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for row in report["models"]:
        print(f"{row['accuracy_pct']:6.2f} %  {row['errors']:3d} errors  {row['model']}")
    together = report["ensemble"]
    print(f"{together['accuracy_pct']:6.2f} %  {together['errors']:3d} errors  all"
          f" {len(args.models)} averaged; {report['missed_by_all']} test digits are missed"
          f" by every model")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def ensemble_report(models: list[Path], data_dir: Path | None = None) -> dict:
    """Each model's and the averaged ensemble's MNIST test accuracy (digit classes) and errors."""
    for path in models:
        if not path.is_file():
            raise UserError(f"{path}: no such model file")
    rows, wrong, total, labels = [], [], None, None
    for path in models:
        probs, labels = mnist_test_probabilities(path, data_dir=data_dir)
        digit_probs = probs[:, :NUM_CLASSES]
        misses = digit_probs.argmax(1) != labels
        rows.append({"model": str(path), "accuracy_pct": round(100 * (1 - misses.mean()), 2),
                     "errors": int(misses.sum())})
        wrong.append(misses)
        total = digit_probs if total is None else total + digit_probs
    misses = total.argmax(1) != labels
    return {"test_digits": len(labels), "models": rows,
            "ensemble": {"accuracy_pct": round(100 * (1 - misses.mean()), 2),
                         "errors": int(misses.sum())},
            "missed_by_all": int(np.logical_and.reduce(wrong).sum())}


if __name__ == "__main__":
    sys.exit(main())
