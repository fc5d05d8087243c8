#!/usr/bin/env python3
"""Train the digit classifier on MNIST and write the model, its runtime export, card and reports.

Usage:
  python scripts/train.py                      # default architecture -> models/digits.*
  python scripts/train.py --arch seed --output models/seed
  python scripts/train.py --resume             # continue an interrupted run
  python scripts/train.py --strategy mirrored  # all local GPUs (or --logical-cpus 2 to try it)
  python scripts/train.py --finetune --extra-data my-digits --output models/mine
                                               # teach the shipped model your handwriting
  python scripts/train.py --teachers a.keras b.keras c.keras
                                               # distil three trained models into one

Writes <output>.keras (training artifact), <output>.tflite (what the reader loads),
<output>.json (model card) and <output>-{curves,confusion,roc,mistakes}.png. Ctrl-C keeps a
checkpoint for --resume; the files above are only replaced when a run finishes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from reader.errors import EXIT_RUNTIME, UserError
from reader.training.mnist import load_mnist

MIN_EXPORT_AGREEMENT = 0.9999
FINETUNE_EPOCHS = 3
FINETUNE_DIGITS = 20000
FINETUNE_LR_FACTOR = 0.1
MODEL_NAME_TO_ARCH = {"seed": "seed", "digitnet": "default"}  # keras.Model.name -> --arch


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="default", choices=["default", "seed"],
                   help="network: our default, or the classic Keras example (seed)")
    p.add_argument("--data", metavar="DIR",
                   help="folder with the four MNIST IDX files (default: ../shared/data/mnist,"
                        " else Keras' download)")
    p.add_argument("--output", default=None, metavar="STEM",
                   help="output path without extension (default: models/digits, models/seed,"
                        " or models/<model>-finetuned with --finetune)")
    p.add_argument("--epochs", type=int, help="default: 20 (default arch) or 12 (seed)")
    p.add_argument("--batch-size", type=int, help="default: 128")
    p.add_argument("--learning-rate", type=float,
                   help="default: 2e-3 Adam with cosine decay, or 1.0 Adadelta for seed")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="camera-like augmentation (default: on, off for seed)")
    p.add_argument("--reader-normalized", action=argparse.BooleanOptionalAction, default=None,
                   help="train and test on MNIST passed through the reader's own patch"
                        " normalisation (default: on, off for seed)")
    p.add_argument("--negatives", type=float, metavar="SHARE",
                   help="not-a-digit patches per training digit, learned as an 11th class"
                        " (default: 0.22 for the default arch, 0 for seed; 0 = 10 classes)")
    p.add_argument("--extra-data", metavar="DIR",
                   help="your own digits, DIR/0/*.png ... DIR/9/*.png (optionally"
                        " DIR/not-a-digit/), mixed into training")
    p.add_argument("--extra-share", type=float, default=0.1, metavar="SHARE",
                   help="share of the training set the extra digits make up, by repetition"
                        " (default: 0.1, so a few dozen digits count)")
    p.add_argument("--finetune", nargs="?", const=str(REPO / "models" / "digits.keras"),
                   metavar="MODEL",
                   help="start from a trained .keras model (default: the shipped one) for a"
                        " few minutes instead of the full run: 3 epochs on 20000 digits at a"
                        " tenth of the learning rate unless told otherwise")
    p.add_argument("--teachers", nargs="+", type=Path, metavar="MODEL",
                   help="distil: learn the averaged predictions of these trained .keras models"
                        " (e.g. the same recipe run with other --seed values) beside the labels")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed (runs are deterministic on CPU)")
    p.add_argument("--val-size", type=int, default=5000,
                   help="training digits held out for validation")
    p.add_argument("--limit", type=int, metavar="N", help="train on N digits only (quick checks)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="where checkpoints live (default: models/.checkpoints/<name>)")
    p.add_argument("--strategy", default="default", choices=["default", "mirrored", "multiworker"],
                   help="tf.distribute strategy; multiworker reads TF_CONFIG")
    p.add_argument("--logical-cpus", type=int, default=0, metavar="N",
                   help="split the CPU into N logical devices (to try --strategy mirrored)")
    p.add_argument("--quiet", action="store_true",
                   help="no live progress bar (one line per epoch is always printed)")
    p.add_argument("--verbose", action="store_true",
                   help="keep TensorFlow's own C++ log lines (hidden by default)")
    args = p.parse_args(argv)
    if args.finetune:
        args.epochs = args.epochs or FINETUNE_EPOCHS
        args.limit = args.limit or FINETUNE_DIGITS
    name = "seed" if args.arch == "seed" else "digits"
    if args.finetune:  # never overwrite the shipped model by default
        name = Path(args.finetune).stem + "-finetuned"
    args.output = Path(args.output or REPO / "models" / name)
    args.checkpoint_dir = Path(args.checkpoint_dir or
                               args.output.parent / ".checkpoints" / args.output.name)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # Ctrl-C (or `kill -INT`) keeps the checkpoint, even when a shell started us in the
    # background with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if not args.verbose:
        from reader.training.logs import filter_native_logs, quiet_environment

        quiet_environment()
        filter_native_logs()
    # --- Data (checked before the 5 s TensorFlow import, so a bad file fails fast) ---
    mnist = load_mnist(args.data)
    print(f"MNIST: {len(mnist.x_train)} training, {len(mnist.x_test)} test digits from"
          f" {mnist.source}", flush=True)
    _check_writable(args.output.parent)
    if args.extra_data and not Path(args.extra_data).is_dir():
        raise UserError(f"{args.extra_data}: no such folder; --extra-data wants DIR/0/*.png"
                        " ... DIR/9/*.png")
    for teacher in args.teachers or []:
        if teacher.suffix != ".keras" or not teacher.is_file():
            raise UserError(f"{teacher}: --teachers needs .keras models (scripts/train.py"
                            " writes one beside each .tflite)")

    import tensorflow as tf

    if args.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus)

    from reader.training import export, reports
    from reader.training.architectures import ARCHITECTURES, multiply_adds
    from reader.training.data import make_splits
    from reader.training.fit import RunConfig, train

    initial_weights, learning_rate, start = None, args.learning_rate, None
    if args.finetune:
        start = _load_start_model(Path(args.finetune))
        initial_weights = start.get_weights()
        # The network is the one being fine-tuned, whatever --arch says.
        args.arch = MODEL_NAME_TO_ARCH.get(start.name, args.arch)
        learning_rate = learning_rate or ARCHITECTURES[args.arch].learning_rate * \
            FINETUNE_LR_FACTOR
    val_size = min(args.val_size, len(mnist.x_train) // 10) if args.limit else args.val_size
    reader_normalized = ARCHITECTURES[args.arch].reader_normalized \
        if args.reader_normalized is None else args.reader_normalized
    negatives = ARCHITECTURES[args.arch].negatives if args.negatives is None else args.negatives
    if start is not None:  # the classes stay those of the model being fine-tuned
        if start.output_shape[-1] == 10:
            negatives = 0.0
        elif negatives <= 0:
            negatives = ARCHITECTURES["default"].negatives
        print(f"fine-tuning {args.finetune} ({start.output_shape[-1]} classes)", flush=True)
    splits = make_splits(mnist, val_size, args.seed, args.limit, reader_normalized, negatives)
    extra = {}
    if args.extra_data:
        splits, extra = _with_extra_data(splits, Path(args.extra_data), args.extra_share)
    if splits.negatives:
        print(f"not-a-digit: {sum(splits.negatives.values())} patches ("
              + ", ".join(f"{k} {v}" for k, v in splits.negatives.items()) + ")", flush=True)

    # --- Train ---
    config = RunConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=learning_rate, augment=args.augment, seed=args.seed,
                       strategy=args.strategy, checkpoint_dir=args.checkpoint_dir,
                       resume=args.resume, verbose=0 if args.quiet else 1,
                       initial_weights=initial_weights,
                       warmup_epochs=0.0 if args.finetune else None)
    resolved = config.resolved()
    print(f"training {args.arch}: {len(splits.x_train)} patches ({splits.num_classes} classes),"
          f" {resolved.epochs} epochs,"
          f" batch {resolved.batch_size}, lr {resolved.learning_rate},"
          f" augment {'on' if resolved.augment else 'off'},"
          f" reader-normalized {'on' if reader_normalized else 'off'},"
          f" strategy {args.strategy}", flush=True)
    teachers = None
    if args.teachers:
        from reader.training.distill import load_teachers

        teachers = load_teachers(args.teachers, splits.num_classes)
        print(f"distilling from {len(teachers)} teacher(s): "
              + ", ".join(str(path) for path in args.teachers), flush=True)
    result = train(splits, config, teachers)
    if result.interrupted:
        print(f"\ninterrupted: checkpoint kept in {args.checkpoint_dir}; continue with --resume"
              f" (no files in {args.output.parent} were changed)", file=sys.stderr)
        return 130
    model = result.model
    print(f"trained in {result.train_seconds:.0f} s on {result.replicas} replica(s)", flush=True)

    # --- Evaluate on the test set (the only use of it) ---
    all_probs = model.predict(splits.x_test, batch_size=1024, verbose=0)
    # The headline figure reads the digit classes only (argmax over 0-9), as MNIST is scored;
    # how many test digits the model would drop as not-a-digit is reported beside it.
    probs = all_probs[:, :10]
    predicted = probs.argmax(1)
    correct = predicted == splits.y_test
    per_class = {str(d): round(float(correct[splits.y_test == d].mean()) * 100, 2)
                 for d in range(10)}
    test_accuracy = float(correct.mean()) * 100
    print(f"test accuracy (digit classes): {test_accuracy:.2f} %"
          f" ({int((~correct).sum())} errors)", flush=True)
    not_a_digit = {}
    if splits.num_classes > 10:
        from reader.training.negatives import make_negatives

        called_not = all_probs.argmax(1) == 10
        exact = (all_probs.argmax(1) == splits.y_test).mean() * 100
        # Held-out clutter: another seed and the test digits' halves, never trained on.
        held_out, _ = make_negatives(2000, args.seed + 7919, mnist.x_test, mnist.y_test,
                                     scene_share=0.2, max_scenes=80)
        caught = model.predict(held_out[..., None], batch_size=1024, verbose=0).argmax(1) == 10
        not_a_digit = {"test_digits_called_not_a_digit_pct": round(called_not.mean() * 100, 2),
                       "test_accuracy_11_classes_pct": round(float(exact), 2),
                       "held_out_negatives": len(held_out),
                       "held_out_negatives_caught_pct": round(caught.mean() * 100, 2)}
        print(f"test digits called not-a-digit: {called_not.mean() * 100:.2f} %;"
              f" 11-class accuracy {exact:.2f} %; held-out clutter caught:"
              f" {caught.mean() * 100:.1f} % of {len(held_out)}", flush=True)

    # --- Export: runtime model first, verified, then the training artifact ---
    agreement = {}

    def export_and_verify(tmp_path):
        export.save_litert(model, Path(tmp_path))
        agreement["value"] = export.argmax_agreement(model, Path(tmp_path), splits.x_test)
        if agreement["value"] < MIN_EXPORT_AGREEMENT:
            raise RuntimeError(f"exported model agrees with Keras on only"
                               f" {agreement['value']:.4%} of test digits")

    try:
        tflite_path = export.write_atomically(args.output.with_suffix(".tflite"),
                                              export_and_verify)
    except RuntimeError as exc:
        print(f"error: export failed, previous model kept: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    keras_path = export.save_keras(model, args.output.with_suffix(".keras"))
    print(f"wrote {keras_path} and {tflite_path} (runtime agrees with Keras on"
          f" {agreement['value']:.4%} of test digits)", flush=True)

    # --- Reports and model card ---
    stem = str(args.output)
    reports.plot_learning_curves(result.history, Path(f"{stem}-curves.png"))
    counts = reports.confusion_matrix(splits.y_test, predicted)
    reports.plot_confusion(counts, Path(f"{stem}-confusion.png"))
    aucs = reports.plot_roc(splits.y_test, probs, Path(f"{stem}-roc.png"))
    reports.plot_mistakes(splits.x_test, splits.y_test, predicted, probs.max(1),
                          Path(f"{stem}-mistakes.png"))
    card = {
        "name": args.output.name,
        "architecture": args.arch,
        "layers": [f"{layer.__class__.__name__}" for layer in model.layers],
        "classes": splits.num_classes,
        "class_names": [str(d) for d in range(10)] + (["not a digit"]
                                                       if splits.num_classes > 10 else []),
        "parameters": int(model.count_params()),
        "multiply_adds_per_digit": multiply_adds(model),
        "files": {"keras": keras_path.name, "runtime": tflite_path.name,
                  "keras_bytes": keras_path.stat().st_size,
                  "runtime_bytes": tflite_path.stat().st_size},
        "training": {**{k: (str(v) if isinstance(v, Path) else v)
                        for k, v in vars(resolved).items()
                        if k not in ("verbose", "initial_weights")},
                     "recipe": {k: v for k, v in vars(ARCHITECTURES[args.arch]).items()
                                if k != "build"},
                     "train_digits": int((splits.y_train < 10).sum()),
                     "train_not_a_digit": splits.negatives or {},
                     "val_digits": len(splits.x_val),
                     "seconds": round(result.train_seconds, 1),
                     "machine": reports.machine_description(),
                     "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "command": "python scripts/train.py " + " ".join(sys.argv[1:]),
                     **({"teachers": [_teacher_card(path) for path in args.teachers]}
                        if args.teachers else {})},
        "data": {"source": mnist.source, "sha256": mnist.sha256,
                 "reader_normalized": reader_normalized, **extra},
        "history": result.history,
        "test": {"accuracy_pct": round(test_accuracy, 2), "errors": int((~correct).sum()),
                 "per_class_accuracy_pct": per_class,
                 "roc_auc_per_class": [round(a, 6) for a in aucs],
                 "runtime_argmax_agreement": agreement["value"], **not_a_digit},
    }
    reports.write_model_card(args.output.with_suffix(".json"), card)
    print(f"wrote {args.output.with_suffix('.json')} and reports {stem}-*.png")

    # --- Summary ---
    from reader.training.logs import format_seconds

    lines = [(f"test accuracy (digit classes): {test_accuracy:.2f} % on {len(correct)} MNIST"
              f" test digits ({int((~correct).sum())} errors)")]
    if not_a_digit:
        lines.append(f"test digits called not-a-digit: "
                     f"{not_a_digit['test_digits_called_not_a_digit_pct']:.2f} %; held-out"
                     f" clutter caught: {not_a_digit['held_out_negatives_caught_pct']:.2f} %")
    lines.append(f"files: {keras_path}, {tflite_path}, {args.output.with_suffix('.json')},"
                 f" {stem}-{{curves,confusion,roc,mistakes}}.png")
    lines.append(f"time: {format_seconds(result.train_seconds)} training,"
                 f" {format_seconds(time.perf_counter() - started)} in all")
    lines.append(f"machine: {reports.machine_description()}")
    print("\n== summary ==\n" + "\n".join(lines), flush=True)
    return 0


def _teacher_card(path: Path) -> dict:
    """What the model card says of a teacher: its file, and from its own card (when it has
    one) its test accuracy, training time and command, so the student's full cost is known."""
    summary = {"model": str(path)}
    try:
        card = json.loads(path.with_suffix(".json").read_text())
        summary.update(test_accuracy_pct=card["test"]["accuracy_pct"],
                       seconds=card["training"]["seconds"], command=card["training"]["command"])
    except (OSError, ValueError, KeyError):
        pass
    return summary


def _load_start_model(path: Path):
    import keras

    if not path.is_file() or path.suffix != ".keras":
        raise UserError(f"{path}: --finetune needs a .keras model (scripts/train.py writes one"
                        " beside the .tflite)")
    try:
        return keras.saving.load_model(path, compile=False)
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: cannot load this model ({str(exc).splitlines()[0]})"
                        ) from None


def _with_extra_data(splits, folder: Path, share: float):
    """The splits with the user's digits added to training, repeated to make up `share`."""
    import dataclasses

    import numpy as np

    from reader.training.extra import load_extra_digits, repeats_for

    patches, labels, counts = load_extra_digits(folder, splits.num_classes)
    repeats = repeats_for(len(patches), len(splits.x_train), share)
    print(f"extra data: {len(patches)} images from {folder} ("
          + ", ".join(f"{k}: {v}" for k, v in counts.items()) + f"), each used {repeats}x",
          flush=True)
    x_train = np.concatenate([splits.x_train, np.repeat(patches[..., None], repeats, axis=0)])
    y_train = np.concatenate([splits.y_train, np.repeat(labels, repeats)])
    return (dataclasses.replace(splits, x_train=x_train, y_train=y_train),
            {"extra_data": {"folder": str(folder), "images": counts, "repeats": repeats}})


def _check_writable(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise UserError(f"{folder}: output folder is not writable; pass --output elsewhere")


if __name__ == "__main__":
    sys.exit(main())
