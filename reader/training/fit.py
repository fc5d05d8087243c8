"""One training run: distribution strategy, compile, fit with checkpoints, resume, Ctrl-C.

A run keeps its state in a checkpoint folder; the finished model is written elsewhere by the
caller (atomically), so an interrupted or failed run never touches the shipped files.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

from reader.atomic import write_bytes_atomically
from reader.training import distill
from reader.training.architectures import ARCHITECTURES
from reader.training.data import Splits, eval_dataset, training_dataset
from reader.training.logs import epoch_line

# tf.data pipelines come shuffled; Keras warns that its own shuffle flag does nothing.
warnings.filterwarnings("ignore", message=r".*`shuffle=True` was passed.*")

# Batches averaged by `recompute_batchnorm` at the end of a run (at most one epoch's worth).
BN_RECOMPUTE_BATCHES = 100
BN_SETTLE_BATCHES = 30      # before each epoch's validation


@dataclass
class RunConfig:
    """What a training run needs to know; `None` means the architecture's preset."""

    arch: str = "default"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    augment: bool | None = None
    seed: int = 0
    strategy: str = "default"      # default | mirrored | multiworker
    checkpoint_dir: Path = Path("models/.checkpoints/digits")
    resume: bool = False
    verbose: int = 1                      # 1: Keras' live bar on a terminal; 0: epoch lines only
    initial_weights: list | None = None   # start from these weights (fine-tuning)
    warmup_epochs: float | None = None

    def resolved(self) -> RunConfig:
        """A copy with the architecture's preset filled in where the user said nothing."""
        preset = ARCHITECTURES[self.arch]
        return RunConfig(
            arch=self.arch,
            epochs=self.epochs or preset.epochs,
            batch_size=self.batch_size or preset.batch_size,
            learning_rate=self.learning_rate or preset.learning_rate,
            augment=preset.augment if self.augment is None else self.augment,
            seed=self.seed, strategy=self.strategy, checkpoint_dir=Path(self.checkpoint_dir),
            resume=self.resume, verbose=self.verbose, initial_weights=self.initial_weights,
            warmup_epochs=preset.warmup_epochs if self.warmup_epochs is None
            else self.warmup_epochs)


@dataclass
class RunResult:
    """The trained model and how it got there."""

    model: keras.Model
    history: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    interrupted: bool = False
    replicas: int = 1


def make_strategy(name: str) -> tf.distribute.Strategy:
    """`default` (one device), `mirrored` (all local GPUs or logical CPUs), `multiworker`
    (machines listed in TF_CONFIG)."""
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        _patch_keras_multiworker_mean()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _optimizer(preset, learning_rate: float, total_steps: int, steps_per_epoch: int,
               warmup_epochs: float = 0.0):
    if preset.optimizer == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=learning_rate, rho=0.95, epsilon=1e-7)
    if preset.optimizer == "adam":
        # Cosine decay from the peak: the last epochs settle into a sharp minimum.
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps, alpha=0.01)
        return keras.optimizers.Adam(schedule)
    # AdamW: a linear warmup (Adam's first steps are noisy), then cosine decay to 1 % of peak.
    warmup = min(int(warmup_epochs * steps_per_epoch), total_steps // 4)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else learning_rate, max(1, total_steps - warmup), alpha=0.01,
        warmup_target=learning_rate if warmup else None, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(
        schedule, weight_decay=preset.weight_decay, use_ema=preset.ema,
        # The average spans ~1000 steps in a full run, ~1/10 of a quick run (there is no
        # bias correction: a window longer than the run would average in the initial weights).
        ema_momentum=min(0.999, max(0.9, 1.0 - 10.0 / total_steps)))
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


@keras.saving.register_keras_serializable(package="digit_reader")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing (Keras' sparse loss has none)."""

    def __init__(self, num_classes: int, smoothing: float = 0.0, name: str = "smoothed_ce",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.smoothing = num_classes, smoothing

    def call(self, y_true, y_pred):
        labels = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, [-1]), "int32"),
                                   self.num_classes)
        return keras.losses.categorical_crossentropy(labels, y_pred,
                                                     label_smoothing=self.smoothing)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "smoothing": self.smoothing}


def recompute_batchnorm(model: keras.Model, dataset: tf.data.Dataset, batches: int) -> int:
    """Set every batch-norm layer's moving statistics to their average over `batches` batches.

    Keras' moving averages (momentum 0.99) still remember their initial values after a short
    run, and the weight average (EMA) shipped at the end never produced them: one pass in
    training mode with momentum k/(k+1) on the k-th batch makes them the plain mean over the
    batches, for the weights being shipped. Returns how many layers were updated.
    """
    norms = [layer for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0
    saved = [layer.momentum for layer in norms]
    try:
        for k, (images, _) in enumerate(dataset.take(batches)):
            for layer in norms:
                layer.momentum = k / (k + 1.0)
            model(images, training=True)
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum
    return len(norms)


class _SettleBatchNorm(keras.callbacks.Callback):
    """Recompute the batch-norm statistics just before each validation, so `val_accuracy`
    describes the model as it would be shipped (Keras' moving averages lag the weights by
    ~100 steps, which early in a run reads at chance)."""

    def __init__(self, dataset: tf.data.Dataset, batches: int):
        super().__init__()
        self.dataset, self.batches = dataset, batches

    def on_test_begin(self, logs=None):
        recompute_batchnorm(self.model, self.dataset, self.batches)


class _EpochLog(keras.callbacks.Callback):
    """One line per epoch on stdout: loss, accuracy, validation, time, ETA."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.durations: list[float] = []
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self.started)
        recent = self.durations[-3:]  # the machine may be shared: recent epochs predict best
        left = (self.epochs - epoch - 1) * sum(recent) / len(recent)
        print(epoch_line(epoch + 1, self.epochs, logs or {}, self.durations[-1], left),
              flush=True)


class _History(keras.callbacks.Callback):
    """Per-epoch metrics persisted beside the checkpoint, so a resumed run keeps its curves."""

    def __init__(self, path: Path, history: dict[str, list[float]]):
        super().__init__()
        self.path, self.history = path, history

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.history["epoch"] = list(range(1, len(self.history.get("loss", [])) + 1))
        write_bytes_atomically(self.path, json.dumps(self.history).encode())


def train(splits: Splits, config: RunConfig, teachers: list[keras.Model] | None = None
          ) -> RunResult:
    """Fit the configured architecture; resumable from `config.checkpoint_dir`.

    With `teachers`, the network learns their averaged predictions beside the labels
    (see `distill`)."""
    cfg = config.resolved()
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    preset = ARCHITECTURES[cfg.arch]
    steps_per_epoch = math.ceil(len(splits.x_train) / cfg.batch_size)

    cfg.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    history_path = cfg.checkpoint_dir / "history.json"
    backup_dir = cfg.checkpoint_dir / "backup"
    if not cfg.resume:  # a fresh run must not silently continue an old one
        _clear(backup_dir)
        history_path.unlink(missing_ok=True)
    history = _load_json(history_path) if cfg.resume else {}
    done_epochs = _load_json(backup_dir / "training_metadata.json").get("epoch", 0)

    strategy = make_strategy(cfg.strategy)
    with strategy.scope():
        model = preset.build(splits.num_classes)
        if cfg.initial_weights is not None:  # --finetune: start from a trained model
            model.set_weights(cfg.initial_weights)
        if teachers:  # soft targets, smoothed in `distill`
            loss, accuracy = "categorical_crossentropy", keras.metrics.CategoricalAccuracy(
                name="accuracy")
        else:
            loss = (SparseSmoothedCrossentropy(splits.num_classes, preset.label_smoothing)
                    if preset.label_smoothing else "sparse_categorical_crossentropy")
            accuracy = "accuracy"
        model.compile(optimizer=_optimizer(preset, cfg.learning_rate,
                                           cfg.epochs * steps_per_epoch, steps_per_epoch,
                                           cfg.warmup_epochs),
                      loss=loss, metrics=[accuracy])

    # Another stretch of the same augmented stream as training (so the statistics describe
    # what the layers saw); deterministic, so every worker computes the same.
    settle_data = training_dataset(splits.x_train, splits.y_train, cfg.batch_size, cfg.seed + 1,
                                   cfg.augment, elastic=preset.elastic)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _build_without_reducing_a_batch(model, strategy, splits, soft_targets=bool(teachers))
    callbacks = [
        _SettleBatchNorm(settle_data, min(BN_SETTLE_BATCHES, steps_per_epoch)),
        # Saves the model, optimizer and epoch after every epoch; restores them on --resume.
        keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False,
                                         double_checkpoint=True),
        _History(history_path, history),
        _EpochLog(cfg.epochs),
    ]
    # Keras' live bar only on a terminal: in a file it is one line of control sequences.
    bar = 1 if cfg.verbose and sys.stdout.isatty() else 0
    started = time.perf_counter()
    interrupted = False
    batches = training_dataset(splits.x_train, splits.y_train, cfg.batch_size, cfg.seed,
                               cfg.augment, first_batch=done_epochs * steps_per_epoch,
                               elastic=preset.elastic)
    validation = eval_dataset(splits.x_val, splits.y_val, 512)
    if teachers:
        batches = distill.with_teacher_targets(batches, teachers, splits.num_classes,
                                               preset.label_smoothing)
        validation = distill.one_hot_labels(validation, splits.num_classes)
    try:
        model.fit(batches, steps_per_epoch=steps_per_epoch, epochs=cfg.epochs,
                  validation_data=validation, callbacks=callbacks, verbose=bar)
    except KeyboardInterrupt:
        interrupted = True
    if not interrupted:  # for the final (averaged) weights, over more batches
        recompute_batchnorm(model, settle_data, min(BN_RECOMPUTE_BATCHES, steps_per_epoch))
    return RunResult(model, history, time.perf_counter() - started, interrupted,
                     strategy.num_replicas_in_sync)


def _patch_keras_multiworker_mean() -> None:
    """Work around Keras 3 under MultiWorkerMirroredStrategy: each training step averages its
    scalar loss and metrics across workers with `reduce("MEAN", v, axis=0)`, which TensorFlow
    rejects for scalars ("Invalid reduction dimension 0 for input with 0 dimensions"). Average
    them with no axis instead; everything else (gradients, predict's gather) is untouched."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "patched_for_multiworker", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and isinstance(
                strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None)
                if isinstance(v, tf.distribute.DistributedValues) else v, values)
        return original(values, strategy, reduction)

    reduce_per_replica.patched_for_multiworker = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def _build_without_reducing_a_batch(model: keras.Model, strategy, splits: Splits,
                                    soft_targets: bool = False) -> None:
    """Work around Keras 3 under MultiWorkerMirroredStrategy: before its first step, `fit`
    averages a distributed input batch across workers only to learn its shapes, and the
    collective reduce rejects the (images, labels) pair ("Attempt to convert a value
    (PerReplica...)"). Build the loss and metrics from a local batch instead."""
    labels = tf.constant(splits.y_train[:2])
    if soft_targets:
        labels = tf.one_hot(labels, splits.num_classes)
    batch = (tf.constant(splits.x_train[:2]), labels)

    def build(iterator=None, data_batch=None):
        with strategy.scope():
            model._symbolic_build(data_batch=batch)

    model._maybe_symbolic_build = build


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
