"""The scorer gives the scores a person would give on hand-made predictions."""

import pytest

from reader.eval.scoring import (
    FrameScore,
    aggregate,
    levenshtein,
    lines_in_reading_order,
    score_frame,
    score_photo,
)


def truth_number(text: str, x: int, y: int, digit_w: int = 20, h: int = 30) -> dict:
    """A truth number of equal-width digits starting at (x, y), like make_scenes writes."""
    digits = [{"label": int(c), "box": [x + i * digit_w, y, digit_w, h]} for i, c in enumerate(text)]
    return {"text": text, "box": [x, y, digit_w * len(text), h], "digits": digits}


def predicted(text: str, x: int, y: int, digit_w: int = 20, h: int = 30) -> tuple[dict, list]:
    """A predicted number and its digits in the `FrameResult.to_json` shape."""
    digits = [{"label": int(c), "confidence": 0.9, "box": [x + i * digit_w, y, digit_w, h]}
              for i, c in enumerate(text)]
    return {"text": text, "confidence": 0.9, "box": [x, y, digit_w * len(text), h]}, digits


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0), ("307", "307", 0), ("", "307", 3), ("307", "", 3),
    ("307", "308", 1), ("307", "37", 1), ("37", "307", 1), ("kitten", "sitting", 3),
    ("0123", "1230", 2),
])
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == distance


def test_exact_match_scores_full_marks():
    truth = [truth_number("307", 100, 100), truth_number("42", 300, 200)]
    number_a, digits_a = predicted("307", 100, 100)
    number_b, digits_b = predicted("42", 300, 200)
    score = score_frame(truth, [number_a, number_b], digits_a + digits_b)
    assert score == FrameScore(numbers_total=2, numbers_exact=2, numbers_whole=2, chars_total=5,
                               char_errors=0, spurious_digits=0)
    result = aggregate([score])
    assert result.numbers_exact_pct == 100.0 and result.numbers_whole_pct == 100.0
    assert result.digit_accuracy_pct == 100.0
    assert result.spurious_per_frame == 0.0


def test_one_wrong_digit_costs_one_over_length():
    truth = [truth_number("3071", 100, 100)]
    number, digits = predicted("3081", 100, 100)
    result = aggregate([score_frame(truth, [number], digits)])
    assert result.numbers_exact_pct == 0.0
    assert result.digit_accuracy_pct == pytest.approx(75.0)  # CER 1/4


def test_number_split_in_two_that_joins_to_the_truth_is_exact_but_not_whole():
    truth = [truth_number("3071", 100, 100), truth_number("58", 300, 100)]
    right, right_digits = predicted("71", 140, 100)  # listed first: joining must sort by x
    left, left_digits = predicted("30", 100, 100)
    other, other_digits = predicted("58", 300, 100)
    score = score_frame(truth, [right, left, other], right_digits + left_digits + other_digits)
    assert score.numbers_exact == 2
    assert score.numbers_whole == 1  # "3071" came out as two numbers, "58" as one
    assert score.char_errors == 0
    result = aggregate([score])
    assert (result.numbers_exact_pct, result.numbers_whole_pct) == (100.0, 50.0)


def test_number_split_wrongly_loses_the_part_outside():
    truth = [truth_number("307", 100, 100)]
    # A box stretching far to the right puts the "07" centre outside the truth box.
    head, head_digits = predicted("3", 100, 100)
    tail = {"text": "07", "confidence": 0.9, "box": [120, 100, 200, 30]}
    score = score_frame(truth, [head, tail], head_digits)
    assert score.numbers_exact == 0
    assert score.char_errors == 2
    assert aggregate([score]).digit_accuracy_pct == pytest.approx(100 / 3)


def test_digit_outside_every_truth_box_is_spurious():
    truth = [truth_number("5", 100, 100)]
    number, digits = predicted("5", 100, 100)
    noise, noise_digits = predicted("1", 400, 400)
    score = score_frame(truth, [number, noise], digits + noise_digits)
    assert score.numbers_exact == 1  # the noise sits outside, so the reading stays "5"
    assert score.spurious_digits == 1
    assert aggregate([score, score]).spurious_per_frame == 1.0


def test_digits_in_an_ignore_box_are_not_spurious():
    # A number cut by the frame edge: its visible digits are real ink, not noise.
    truth = [truth_number("5", 100, 100)]
    number, digits = predicted("5", 100, 100)
    cut, cut_digits = predicted("42", 0, 300)
    score = score_frame(truth, [number, cut], digits + cut_digits, ignore_boxes=[[0, 290, 45, 50]])
    assert score.spurious_digits == 0
    assert score.numbers_total == 1 and score.numbers_exact == 1


def test_empty_prediction_reads_nothing():
    truth = [truth_number("307", 100, 100), truth_number("9", 300, 100)]
    score = score_frame(truth, [], [])
    assert score == FrameScore(numbers_total=2, numbers_exact=0, numbers_whole=0, chars_total=4,
                               char_errors=4, spurious_digits=0)
    assert aggregate([score]).digit_accuracy_pct == 0.0


def test_frame_without_truth_has_no_percentages_but_counts_spurious():
    noise, noise_digits = predicted("11", 10, 10)
    result = aggregate([score_frame([], [noise], noise_digits)], seconds=0.5)
    assert result.numbers_exact_pct is None and result.digit_accuracy_pct is None
    assert result.spurious_per_frame == 2.0
    assert result.fps == 2.0


def test_photo_lines_and_leading_zero():
    # Two lines; the second number on line 1 is written a little lower, as handwriting is.
    numbers = [predicted("0755", 10, 100)[0], predicted("12", 200, 108)[0],
               predicted("52306", 10, 10)[0]]
    assert lines_in_reading_order(numbers) == ["52306", "075512"]
    score = score_photo("52306/075512", numbers)
    # Line 2 is exact, but as two numbers ("0755" and "12"): one of two lines read whole.
    assert score == FrameScore(numbers_total=2, numbers_exact=2, numbers_whole=1, chars_total=11,
                               char_errors=0, spurious_digits=None)


def test_photo_dropped_leading_zero_costs_one_digit_and_the_line():
    numbers = [predicted("52306", 10, 10)[0], predicted("755", 30, 100)[0]]
    result = aggregate([score_photo("52306/0755", numbers)])
    assert result.numbers_exact == 1 and result.numbers_total == 2
    assert result.digit_accuracy_pct == pytest.approx(100 * (1 - 1 / 9))
    assert result.spurious_per_frame is None


def test_photo_noise_line_does_not_shift_later_lines():
    numbers = [predicted("1", 10, 10)[0], predicted("77", 10, 60)[0],  # "77" is noise
               predicted("2", 10, 110)[0], predicted("3", 10, 160)[0]]
    score = score_photo("1/2/3", numbers)
    assert score.numbers_exact == 3
    assert score.char_errors == 2  # the two inserted digits


def test_empty_photo_prediction():
    score = score_photo("9/356/7", [])
    assert (score.numbers_exact, score.chars_total, score.char_errors) == (0, 5, 5)
