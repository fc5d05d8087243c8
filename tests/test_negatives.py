"""Not-a-digit patches: reproducible, shaped like the reader's patches, every kind present."""

import cv2
import numpy as np
import pytest

from reader.patches import make_patches
from reader.training.negatives import (
    SYNTHETIC_KINDS,
    false_alarms,
    looks_like_a_one,
    make_negatives,
    scene_negatives,
    synthetic_negatives,
)


@pytest.fixture(scope="module")
def digits():
    """Stand-in 'MNIST' digits drawn with OpenCV (the tests must not need ../shared)."""
    rng = np.random.default_rng(0)
    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.arange(40) % 10
    for image, label in zip(images, labels):
        cv2.putText(image, str(label), (6, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 2)
        image[:] = np.roll(image, int(rng.integers(-2, 3)), axis=1)
    return images, labels


def test_same_seed_same_patches_other_seed_other_patches(digits):
    first, counts = make_negatives(120, 5, *digits, scene_share=0)
    again, _ = make_negatives(120, 5, *digits, scene_share=0)
    other, _ = make_negatives(120, 6, *digits, scene_share=0)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == (120, 28, 28) and first.dtype == np.float32
    assert sum(counts.values()) == 120


def test_every_kind_gives_reader_like_patches(digits):
    patches, kinds = synthetic_negatives(400, 1, *digits)
    assert set(kinds) == set(SYNTHETIC_KINDS)
    assert patches.min() >= 0.0 and patches.max() <= 1.0
    # Like the reader's patches: ink fitted to the 20 px box, never blank.
    peaks = patches.reshape(len(patches), -1).max(1)
    assert (peaks > 0.5).all()
    rows = (patches > 0.1).any(axis=2).sum(1)
    cols = (patches > 0.1).any(axis=1).sum(1)
    assert (np.maximum(rows, cols) <= 24).all()


def test_a_proposal_counts_as_false_alarm_only_away_from_every_digit():
    truth = np.array([[100, 100, 30, 40], [140, 100, 30, 40]])
    boxes = np.array([[10, 10, 20, 30],       # far away
                      [102, 98, 28, 44],      # on the first digit
                      [100, 100, 70, 40],     # both digits merged
                      [120, 100, 20, 40],     # between them, mostly on neither... half each
                      [160, 130, 40, 40]])    # a corner overlaps the second digit slightly
    assert false_alarms(boxes, truth).tolist() == [True, False, False, False, True]
    assert false_alarms(boxes, np.zeros((0, 4))).all()


def test_scene_negatives_are_what_the_reader_proposes_outside_the_truth():
    def scene_with_a_blot(rng, glyphs):
        image = np.full((240, 320, 3), 235, np.uint8)
        cv2.putText(image, "7", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
        cv2.ellipse(image, (220, 120), (12, 30), 20, 0, 360, (30, 30, 30), 3)   # not a digit
        truth = {"numbers": [{"digits": [{"label": 7, "box": [40, 75, 45, 50]}]}]}
        return image, truth

    patches = scene_negatives(5, 0, glyphs=None, makers=[scene_with_a_blot], max_scenes=3)
    assert 1 <= len(patches) <= 5
    # The ring, not the 7: the patch is an upright ellipse outline (hole in the middle).
    assert patches[0][14, 14] < 0.2 and patches[0].max() > 0.9


class _RecordingClassifier:
    """Doubts every box (calls it not-a-digit) and records what the reader asks it to read."""

    num_classes = 11

    def __init__(self):
        self.calls = []

    def predict(self, patches):
        self.calls.append(np.array(patches))
        probs = np.zeros((len(patches), 11), np.float32)
        probs[:, 10] = 1.0
        return probs


def _printed_word_scene(rng, glyphs):
    """A page with a handwritten-like 7 and a printed word far from it."""
    image = np.full((240, 420, 3), 235, np.uint8)
    cv2.putText(image, "7", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    cv2.putText(image, "HUM", (200, 130), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (30, 30, 30), 3)
    truth = {"numbers": [{"digits": [{"label": 7, "box": [40, 75, 45, 50]}]}]}
    return image, truth


def test_every_alternative_holds_the_patches_the_reader_weighs():
    from reader.contours import find_digit_boxes
    from reader.segment import MAX_BLOB_WIDTH_PER_HEIGHT, every_alternative, read_boxes
    from reader.threshold import ink_mask

    image, _ = _printed_word_scene(None, None)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    mask = ink_mask(gray)
    boxes, pieces = find_digit_boxes(mask, 64, MAX_BLOB_WIDTH_PER_HEIGHT, with_pieces=True)
    classifier = _RecordingClassifier()
    read_boxes(gray, mask.copy(), boxes, classifier, pieces)
    assert len(classifier.calls) == 2   # the boxes, then the cuts and merges weighed for them
    weighed = classifier.calls[1]

    before = mask.copy()
    proposed_boxes, proposed = every_alternative(gray, mask, boxes, pieces)
    assert np.array_equal(mask, before)   # the frame's mask is left as it was
    assert len(proposed_boxes) == len(proposed) >= len(weighed) > 0
    # Every patch the reader reads as an alternative is among the proposals, pixel for pixel.
    for patch in weighed:
        assert np.abs(proposed - patch).reshape(len(proposed), -1).max(1).min() < 1e-6


def test_scene_negatives_hold_the_pieces_of_cut_printed_letters():
    from reader.contours import find_digit_boxes
    from reader.segment import MAX_BLOB_WIDTH_PER_HEIGHT, every_alternative
    from reader.threshold import ink_mask

    image, _ = _printed_word_scene(None, None)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    mask = ink_mask(gray)
    boxes, pieces = find_digit_boxes(mask, 64, MAX_BLOB_WIDTH_PER_HEIGHT, with_pieces=True)
    _, proposed = every_alternative(gray, mask, boxes, pieces)
    negatives = scene_negatives(50, 0, glyphs=None, makers=[_printed_word_scene], max_scenes=1)
    cut_pieces = [p for p in proposed if not looks_like_a_one(p[None])[0]]
    assert cut_pieces
    assert any(np.abs(negatives - p).reshape(len(negatives), -1).max(1).min() < 1e-6
               for p in cut_pieces)
    # The 7 (its contour box is the leftmost) is a digit, not a negative.
    seven = make_patches(gray, mask, boxes[:1])[0]
    assert np.abs(negatives - seven).reshape(len(negatives), -1).max(1).min() > 0.1
