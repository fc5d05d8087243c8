"""A user's own digits for training: a folder per class, passed through the reader's patches.

Layout (Keras' `image_dataset_from_directory` layout): `DIR/0/*.png` ... `DIR/9/*.png`, and
optionally `DIR/not-a-digit/*.png` for things the reader should ignore. Images can be the
patches the reader's window saves (28x28, white ink on black) or crops of a photo (dark ink on
light paper): each goes through the reader's own patch normalisation, so it reaches the network
exactly as the live reader would feed it. No TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reader.errors import UserError
from reader.patches import normalize_digit

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
NOT_A_DIGIT_FOLDERS = ("not-a-digit", "not_a_digit", "none")


def to_ink(gray: np.ndarray) -> np.ndarray:
    """White ink on black from a grayscale image of either polarity (decided by its border:
    paper surrounds a digit)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if float(np.median(border)) > 127:  # light paper, dark ink
        return cv2.bitwise_not(gray)
    return gray


def load_extra_digits(folder: str | Path, num_classes: int = 10
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Patches (N, 28, 28) float32 in [0, 1], labels (N,) and counts per class folder.

    Raises a one-line UserError when the folder is missing, holds no class folders, or an
    image cannot be read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; --extra-data wants DIR/0/*.png ..."
                        " DIR/9/*.png")
    classes = {str(d): d for d in range(10)}
    if num_classes > 10:
        classes.update({name: 10 for name in NOT_A_DIGIT_FOLDERS})
    patches, labels, counts = [], [], {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if sub.name not in classes:
            continue
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for path in files:
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                raise UserError(f"{path}: cannot read this image; remove it or convert it to"
                                " PNG")
            patch = normalize_digit(to_ink(gray))
            if patch.max() > 0:
                patches.append(patch)
                labels.append(classes[sub.name])
        counts[sub.name] = len(files)
    if not patches:
        raise UserError(f"{folder}: no images in class folders 0 ... 9 (e.g. {folder}/7/a.png)")
    return np.stack(patches), np.array(labels, np.uint8), counts


def repeats_for(extra_count: int, train_count: int, share: float) -> int:
    """How many times to repeat each extra example so that they make up about `share` of the
    training set (a few dozen digits then count against tens of thousands)."""
    if extra_count == 0 or share <= 0:
        return 0
    return max(1, round(share * train_count / ((1.0 - share) * extra_count)))
