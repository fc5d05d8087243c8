"""Tracking across frames: steady labels, no blinking, no swaps, and shake tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from reader.detections import Digit
from reader.tracking import DigitTracker


def seen(label: int, box: tuple[int, int, int, int], confidence: float = 0.95) -> Digit:
    """A detection whose probs put `confidence` on `label` and spread the rest evenly."""
    probs = np.full(10, (1 - confidence) / 9, np.float32)
    probs[label] = confidence
    return Digit(label, confidence, box, probs)


BOX = (100, 100, 30, 40)


def feed(tracker: DigitTracker, frames: list[list[Digit]]) -> list[list[Digit]]:
    return [tracker.update(frame) for frame in frames]


def test_output_is_a_digit_with_int_box_and_normalised_probs():
    [digit] = DigitTracker().update([seen(4, BOX)])
    assert digit.label == 4 and digit.box == BOX
    assert all(isinstance(v, int) for v in digit.box)
    assert digit.probs.shape == (10,) and digit.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert digit.confidence == pytest.approx(float(digit.probs.max()))


def test_one_frame_flip_keeps_the_label_but_a_lasting_change_wins():
    tracker = DigitTracker()
    feed(tracker, [[seen(3, BOX)]] * 5)
    [flipped] = tracker.update([seen(8, BOX, 0.9)])
    assert flipped.label == 3
    [back] = tracker.update([seen(3, BOX)])
    assert back.label == 3
    # A digit really rewritten as 8 shows as 8 within a few frames.
    outputs = feed(tracker, [[seen(8, BOX)]] * 3)
    assert outputs[-1][0].label == 8


def test_digit_missed_for_one_frame_still_appears():
    tracker = DigitTracker()
    feed(tracker, [[seen(5, BOX)]] * 3)
    [kept] = tracker.update([])
    assert kept.label == 5 and kept.box == BOX
    [again] = tracker.update([seen(5, BOX)])
    assert again.label == 5
    assert len(tracker) == 1


@pytest.mark.parametrize("max_missed", [1, 3, 5])
def test_digit_disappears_after_max_missed_frames(max_missed):
    tracker = DigitTracker(max_missed=max_missed)
    feed(tracker, [[seen(2, BOX)]] * 3)
    outputs = feed(tracker, [[]] * (max_missed + 1))
    assert [len(out) for out in outputs] == [1] * max_missed + [0]
    assert len(tracker) == 0


@pytest.mark.parametrize("jump", [0.1, 0.15, 0.2])
def test_shaking_box_stays_one_track(jump):
    tracker = DigitTracker()
    x, y, w, h = BOX
    rng = np.random.default_rng(0)
    for _ in range(30):
        dx, dy = rng.choice([-1, 1], size=2) * jump * np.array([w, h])
        out = tracker.update([seen(6, (round(x + dx), round(y + dy), w, h))])
        assert len(out) == 1 and out[0].label == 6
        assert len(tracker) == 1


def test_two_nearby_digits_do_not_swap_while_shaking():
    tracker = DigitTracker()
    rng = np.random.default_rng(1)
    h = 40
    # A narrow '1' then a '7' with a tight in-number gap of 0.1 height: centres only 22 px apart.
    left_x, left_w, right_w = 200, 10, 26
    right_x = left_x + left_w + 4
    for frame in range(30):
        dx, dy = np.rint(rng.uniform(-0.2, 0.2, size=2) * h).astype(int)
        detections = [seen(7, (right_x + dx, 100 + dy, right_w, h)),
                      seen(1, (left_x + dx, 100 + dy, left_w, h))]
        if frame % 7 == 3:
            detections = detections[:1]  # the left digit is missed now and then
        out = sorted(tracker.update(detections), key=lambda d: d.box[0])
        assert [d.label for d in out] == [1, 7]
        assert len(tracker) == 2


def test_unsure_new_digit_waits_one_frame_and_a_speck_never_shows():
    tracker = DigitTracker(show_confident=0.9, min_hits=2)
    assert tracker.update([seen(9, BOX, 0.6)]) == []
    [shown] = tracker.update([seen(9, BOX, 0.6)])
    assert shown.label == 9
    speck = (400, 300, 20, 30)
    assert tracker.update([seen(9, BOX), seen(0, speck, 0.55)])[0].box == BOX
    assert [d.box for d in tracker.update([seen(9, BOX)])] == [BOX]
    assert len(tracker) == 1


def test_confident_new_digit_shows_at_once():
    assert len(DigitTracker(show_confident=0.9).update([seen(1, BOX, 0.97)])) == 1


def test_reset_forgets_every_track():
    tracker = DigitTracker()
    feed(tracker, [[seen(3, BOX), seen(4, (200, 100, 30, 40))]] * 3)
    tracker.reset()
    assert len(tracker) == 0
    assert tracker.update([]) == []
    # After a reset an old track's history no longer outvotes a new reading.
    [fresh] = tracker.update([seen(8, BOX)])
    assert fresh.label == 8


def test_detections_without_probs_are_tracked_from_label_and_confidence():
    tracker = DigitTracker()
    out = feed(tracker, [[Digit(7, 0.95, BOX)]] * 2)
    assert out[-1][0].label == 7 and out[-1][0].confidence == pytest.approx(0.95)


def test_box_follows_a_moving_digit():
    tracker = DigitTracker()
    for step in range(10):
        [out] = tracker.update([seen(2, (100 + 5 * step, 100, 30, 40))])
    assert abs(out.box[0] - (100 + 5 * 9)) <= 3


def test_digit_jumping_too_far_to_match_leaves_no_ghost_box():
    tracker = DigitTracker()
    feed(tracker, [[seen(3, BOX)]] * 3)
    x, y, w, h = BOX
    jumped = (x + round(0.6 * w), y + round(0.3 * h), w, h)  # beyond max_jump, still overlapping
    assert [d.box for d in tracker.update([seen(3, jumped)])] == [jumped]
    assert len(tracker) == 1


def test_unsure_speck_over_a_missed_digit_does_not_hide_it():
    tracker = DigitTracker()
    feed(tracker, [[seen(3, BOX)]] * 3)
    x, y, w, h = BOX
    speck = (x + round(0.6 * w), y + round(0.3 * h), w, h)
    assert [d.label for d in tracker.update([seen(0, speck, 0.55)])] == [3]


def test_a_sudden_pan_does_not_swap_two_neighbouring_digits():
    # A narrow '1' and a '7' side by side, centres 22 px apart (0.55 of a box). The camera pans
    # 14 px in one frame: the '1' is now nearer the 7's old place (8 px) than its own (14 px).
    # Nearest-first (greedy) matching hands the '1' to the 7's track and shows "77"; the best
    # overall pairing keeps each digit on its own track.
    tracker = DigitTracker()
    h = 40

    def frame(dx: int) -> list[Digit]:
        return [seen(1, (200 + dx, 100, 10, h)), seen(7, (214 + dx, 100, 26, h))]

    for dx in [0, 0, 0, 14, 14, 14]:
        out = sorted(tracker.update(frame(dx)), key=lambda d: d.box[0])
        assert [d.label for d in out] == [1, 7], f"after a pan of {dx} px"
        assert len(tracker) == 2


def test_arrays_in_arrays_out_agree_with_digits():
    boxes = np.array([[100, 100, 30, 40], [200, 100, 30, 40]])
    probs = np.stack([seen(4, BOX).probs, seen(9, BOX).probs])
    shown = DigitTracker().track(boxes, probs)
    assert shown.boxes_xywh.dtype == np.int64 and shown.boxes_xywh.tolist() == boxes.tolist()
    assert shown.probs.dtype == np.float32 and shown.probs.argmax(axis=1).tolist() == [4, 9]
    digits = DigitTracker().update([seen(4, tuple(boxes[0])), seen(9, tuple(boxes[1]))])
    assert [d.box for d in digits] == [tuple(b) for b in shown.boxes_xywh.tolist()]
    assert np.allclose([d.probs for d in digits], shown.probs)


def test_returned_probs_do_not_change_when_the_tracker_moves_on():
    tracker = DigitTracker()
    first = tracker.track(np.array([BOX]), seen(3, BOX).probs[None])
    before = first.probs.copy()
    tracker.track(np.array([BOX]), seen(8, BOX).probs[None])
    assert np.array_equal(first.probs, before)
