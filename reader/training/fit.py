"""One training run: distribution strategy, compile, fit with checkpoints, resume, Ctrl-C.

A run keeps its state in a checkpoint folder; the finished model is written elsewhere by the
caller (atomically), so an interrupted or failed run never touches the shipped files.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

from reader.atomic import write_bytes_atomically
from reader.training.architectures import ARCHITECTURES
from reader.training.data import Splits, eval_dataset, training_dataset


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
    verbose: int = 1

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
            resume=self.resume, verbose=self.verbose)


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
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _optimizer(name: str, learning_rate: float, total_steps: int):
    if name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=learning_rate, rho=0.95, epsilon=1e-7)
    # Cosine decay from the peak: the last epochs settle into a sharp minimum.
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps, alpha=0.01)
    return keras.optimizers.Adam(schedule)


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


def train(splits: Splits, config: RunConfig) -> RunResult:
    """Fit the configured architecture; resumable from `config.checkpoint_dir`."""
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
        model = preset.build()
        model.compile(optimizer=_optimizer(preset.optimizer, cfg.learning_rate,
                                           cfg.epochs * steps_per_epoch),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    callbacks = [
        # Saves the model, optimizer and epoch after every epoch; restores them on --resume.
        keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False,
                                         double_checkpoint=True),
        _History(history_path, history),
    ]
    started = time.perf_counter()
    interrupted = False
    try:
        model.fit(training_dataset(splits.x_train, splits.y_train, cfg.batch_size, cfg.seed,
                                   cfg.augment, first_batch=done_epochs * steps_per_epoch),
                  steps_per_epoch=steps_per_epoch, epochs=cfg.epochs,
                  validation_data=eval_dataset(splits.x_val, splits.y_val, 512),
                  callbacks=callbacks, verbose=cfg.verbose)
    except KeyboardInterrupt:
        interrupted = True
    return RunResult(model, history, time.perf_counter() - started, interrupted,
                     strategy.num_replicas_in_sync)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _clear(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
