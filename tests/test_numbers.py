"""Grouping digits into numbers: lines, gaps, reading order, text, confidence and box."""

from __future__ import annotations

import math
import random

import pytest

from reader.detections import Digit
from reader.numbers import group_numbers

HEIGHT = 40
WIDTH = 26


def row_of_digits(text: str, x: int, y: int, gap: int = 6, height: int = HEIGHT,
                  slope: float = 0.0, confidence: float = 0.9) -> list[Digit]:
    """Digits for `text` left to right; '1' is narrower and a little shorter, like handwriting."""
    digits = []
    start_x = x
    for char in text:
        label = int(char)
        w, h = (8, int(height * 0.85)) if label == 1 else (WIDTH, height)
        top = y + round(slope * (x - start_x)) + (height - h) // 2
        digits.append(Digit(label, confidence, (x, top, w, h)))
        x += w + gap
    return digits


def texts(numbers) -> list[str]:
    return [n.text for n in numbers]


def test_empty_input_gives_no_numbers():
    assert group_numbers([]) == []


def test_one_number_text_confidence_and_union_box():
    digits = [Digit(3, 0.9, (10, 20, 26, 40)), Digit(0, 0.6, (40, 22, 26, 40)),
              Digit(7, 0.8, (70, 18, 26, 40))]
    [number] = group_numbers(digits)
    assert number.text == "307"
    assert number.confidence == pytest.approx(0.6)  # the weakest digit
    assert number.box == (10, 18, 86, 44)
    assert [d.label for d in number.digits] == [3, 0, 7]


def test_wide_gap_splits_one_line_into_two_numbers():
    digits = row_of_digits("12", 10, 50) + row_of_digits("345", 10 + 200, 52)
    assert texts(group_numbers(digits)) == ["12", "345"]


@pytest.mark.parametrize("gap_ratio", [0.1, 0.25, 0.45])
def test_tight_gaps_stay_one_number(gap_ratio):
    digits = row_of_digits("90817", 10, 10, gap=round(gap_ratio * HEIGHT))
    assert texts(group_numbers(digits)) == ["90817"]


def test_gap_just_over_a_digit_height_splits():
    digits = row_of_digits("45", 10, 10) + row_of_digits("67", 10 + 2 * WIDTH + 6 + HEIGHT, 10)
    assert texts(group_numbers(digits)) == ["45", "67"]


def test_two_lines_read_top_to_bottom_then_left_to_right():
    digits = (row_of_digits("88", 300, 200) + row_of_digits("56", 10, 200)
              + row_of_digits("42", 150, 20))
    assert texts(group_numbers(digits)) == ["42", "56", "88"]


def test_lines_close_together_do_not_merge():
    digits = row_of_digits("123", 10, 10) + row_of_digits("456", 14, 10 + HEIGHT + 4)
    assert texts(group_numbers(digits)) == ["123", "456"]


def test_digits_given_out_of_order_are_read_left_to_right():
    digits = row_of_digits("2024", 30, 30) + row_of_digits("7", 400, 30)
    shuffled = digits[:]
    random.Random(3).shuffle(shuffled)
    assert texts(group_numbers(shuffled)) == ["2024", "7"]
    assert texts(group_numbers(digits[::-1])) == ["2024", "7"]


@pytest.mark.parametrize("angle_deg", [-12, -6, 6, 12])
def test_slightly_rotated_line_stays_one_number(angle_deg):
    slope = math.tan(math.radians(angle_deg))
    digits = row_of_digits("3141592653", 20, 200, slope=slope)
    # The line's ends sit at clearly different heights, yet it is one number.
    assert abs(digits[-1].box[1] - digits[0].box[1]) > HEIGHT / 3
    assert texts(group_numbers(digits)) == ["3141592653"]


def test_rotated_lines_above_each_other_stay_apart():
    slope = math.tan(math.radians(8))
    digits = (row_of_digits("5678", 20, 30, slope=slope)
              + row_of_digits("1234", 20, 30 + 2 * HEIGHT, slope=slope))
    assert texts(group_numbers(digits)) == ["5678", "1234"]


def test_narrow_short_one_joins_its_neighbours():
    digits = row_of_digits("717", 10, 10) + row_of_digits("11", 10, 100)
    assert digits[1].box[2] < digits[0].box[2] and digits[1].box[3] < digits[0].box[3]
    assert texts(group_numbers(digits)) == ["717", "11"]


def test_each_digit_appears_in_exactly_one_number():
    digits = (row_of_digits("123", 10, 10) + row_of_digits("45", 300, 14)
              + row_of_digits("6789", 40, 120, slope=0.1))
    numbers = group_numbers(digits)
    grouped = [d for n in numbers for d in n.digits]
    assert sorted(grouped, key=id) == sorted(digits, key=id)
    assert "".join(texts(numbers)) == "123456789"


@pytest.mark.parametrize("text", ["411", "141"])
def test_short_ones_at_the_widest_in_number_gap_do_not_split(text):
    gap = round(0.45 * HEIGHT)
    digits, x = [], 10
    for char in text:
        w, h = (7, round(0.6 * HEIGHT)) if char == "1" else (WIDTH, HEIGHT)
        digits.append(Digit(int(char), 0.9, (x, 10 + (HEIGHT - h) // 2, w, h)))
        x += w + gap
    assert texts(group_numbers(digits)) == [text]


def test_big_and_small_numbers_on_one_line_each_split_at_their_own_scale():
    big = row_of_digits("808", 10, 10, gap=36, height=80)
    small = row_of_digits("23", big[-1].box[0] + WIDTH + 100, 40, gap=4, height=30)
    assert texts(group_numbers(big + small)) == ["808", "23"]


def test_tilted_line_keeps_its_digits_when_a_short_line_below_sits_at_their_height():
    # On a page tilted ~11 degrees, the long line's right end drops to the height of the short
    # line under its start; the right end must still continue its own line.
    long_line = row_of_digits("2345678902", 10, 10, slope=0.2)
    short_line = row_of_digits("86", 10, 10 + round(1.4 * HEIGHT))
    assert long_line[-1].box[1] >= short_line[0].box[1]
    assert texts(group_numbers(long_line + short_line)) == ["2345678902", "86"]


def test_a_small_number_close_to_a_big_one_is_a_number_of_its_own():
    # The gap is small next to the big digits but a whole digit width at the small ones' size.
    small = row_of_digits("847", 10, 60, gap=5, height=30)
    gap = 28
    big = row_of_digits("16988", small[-1].box[0] + WIDTH + gap, 20, gap=12, height=70)
    assert texts(group_numbers(small + big)) == ["847", "16988"]
    assert texts(group_numbers(big + row_of_digits("85", big[-1].box[0] + WIDTH + gap, 50,
                                                   height=30))) == ["16988", "85"]
