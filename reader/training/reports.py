"""Pictures of a trained model (curves, confusion matrix, ROC, mistakes) and its model card."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np

from reader.atomic import write_atomically
from reader.machine import machine_description  # noqa: F401 - train.py's model card


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((classes, classes), np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def roc_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False- and true-positive rates over all thresholds, and the area under the curve."""
    order = np.argsort(-scores, kind="stable")
    hits = is_positive[order].astype(np.float64)
    tpr = np.concatenate([[0.0], np.cumsum(hits) / max(hits.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(1 - hits) / max((1 - hits).sum(), 1)])
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def _save_figure(fig, path: Path) -> None:
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110,
                                                   bbox_inches="tight"))
    plt.close(fig)


def plot_learning_curves(history: dict[str, list[float]], path: Path) -> None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = range(1, len(history.get("loss", [])) + 1)
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            ax_loss.plot(epochs, history[key], style, label=key)
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        if key in history:
            ax_acc.plot(epochs, np.array(history[key]) * 100, style, label=key)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="%", title="Accuracy (train is augmented)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    _save_figure(fig, path)


def plot_confusion(counts: np.ndarray, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(counts), cmap="Blues")
    for (t, p), n in np.ndenumerate(counts):
        ax.text(p, t, str(n), ha="center", va="center", fontsize=7,
                color="white" if t == p else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title=f"Confusion matrix, MNIST test ({counts.sum() - np.trace(counts)} errors)")
    _save_figure(fig, path)


def plot_roc(y_true: np.ndarray, probs: np.ndarray, path: Path) -> list[float]:
    """One-vs-rest ROC per class (log-scaled false-positive axis); returns the AUCs."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    aucs = []
    for digit in range(probs.shape[1]):
        fpr, tpr, auc = roc_curve(y_true == digit, probs[:, digit])
        aucs.append(auc)
        ax.plot(np.maximum(fpr, 1e-5), tpr, label=f"{digit}: AUC {auc:.5f}", lw=1)
    ax.set(xscale="log", xlim=(1e-5, 1), ylim=(0.9, 1.001), xlabel="false-positive rate",
           ylabel="true-positive rate", title="ROC per class, MNIST test")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    _save_figure(fig, path)
    return aucs


def plot_mistakes(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                  confidence: np.ndarray, path: Path, limit: int = 60) -> None:
    """A grid of misclassified test digits, labelled true -> predicted (confidence)."""
    wrong = np.flatnonzero(y_true != y_pred)[:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), wrong):
        ax.imshow(images[i].squeeze(), cmap="gray_r")
        ax.set_title(f"{y_true[i]}→{y_pred[i]} {confidence[i]:.0%}", fontsize=7)
    fig.suptitle(f"Misclassified MNIST test digits ({len(wrong)} shown): true→predicted")
    _save_figure(fig, path)


REPO_ROOT = Path(__file__).resolve().parents[2]


def portable_path(value: str, repo: Path = REPO_ROOT) -> str:
    """An absolute path as the card shows it: relative to the repository when it lies inside
    it or beside it (`models/.checkpoints/digits`, `../shared/data/mnist`), else its last
    folder's name only (the training machine's layout is nobody's business; the data's
    checksums identify it)."""
    relative = os.path.relpath(value, repo)
    return relative if not relative.startswith(os.path.join("..", "..")) else Path(value).name


def _portable(node):
    if isinstance(node, dict):
        return {key: _portable(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_portable(value) for value in node]
    if isinstance(node, str) and os.path.isabs(node):
        return portable_path(node)
    return node


def write_model_card(path: Path, card: dict) -> None:
    """The card as JSON, every absolute path in it made portable (`portable_path`)."""
    text = json.dumps(_portable(card), indent=2) + "\n"
    write_atomically(path, lambda tmp: Path(tmp).write_text(text))
