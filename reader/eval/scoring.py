"""Score what a reader read against the truth: numbers read exactly, digit accuracy, spurious digits.

Pure functions on plain dicts (the `--json` shape of `FrameResult` and the scene truth format), so
the reader, the usual approach and Tesseract are scored by the same code.

Generated scenes have boxes:
  * a truth number's reading is the predicted numbers whose box centre lies inside its box,
    joined left to right; it is read exactly when the reading equals the truth text, and read
    whole when, besides, it is ONE predicted number (a number read as two pieces that join to
    the truth is exact but not whole: a user would see two numbers);
  * digit accuracy is 1 - CER = 1 - sum(Levenshtein(reading, truth)) / sum(len(truth));
  * a spurious digit is a predicted digit whose box centre lies inside no truth number box and
    no ignore box (optional: where the truth knows there is ink it does not score, such as a
    number cut by the frame edge, whose visible digits are real but not a whole number).

Real photos have only text (lines separated by '/'), so they are scored in reading order: the
predicted numbers are sorted into lines (top to bottom, left to right within a line), and
  * digit accuracy is 1 - CER of all lines concatenated against the truth without the '/';
  * a "number" is a truth line; the lines read exactly are the longest in-order matching of
    predicted lines against truth lines (a longest common subsequence of whole lines), so one
    spurious line of noise or one missed line does not shift every later line out of place;
    the lines read whole are the same matching counting only lines read as one number;
  * spurious digits cannot be told apart without boxes: they show up as insertions in the CER.

Digit accuracy is not clamped: it falls below 0 when a reader adds more digits than the truth has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

BoxLike = Sequence[float]  # (x, y, w, h)


@dataclass(frozen=True)
class FrameScore:
    """Counts for one frame (or one photo); add them up with `aggregate`."""

    numbers_total: int
    numbers_exact: int
    numbers_whole: int          # read exactly AND as one predicted number
    chars_total: int            # truth length, the CER denominator
    char_errors: int            # summed Levenshtein distance
    spurious_digits: int | None  # None where there are no truth boxes (photos)


@dataclass(frozen=True)
class SetScore:
    """The metrics of one set of frames, in percent and per frame."""

    frames: int
    numbers_total: int
    numbers_exact: int
    numbers_whole: int
    chars_total: int
    char_errors: int
    spurious_digits: int | None
    numbers_exact_pct: float | None  # None when the set holds no truth numbers
    numbers_whole_pct: float | None
    digit_accuracy_pct: float | None
    spurious_per_frame: float | None
    fps: float | None

    def to_json(self) -> dict:
        """Plain dict with rounded floats for reports."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float):
                out[key] = round(value, 3)
        return out


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each cost 1) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1,                      # delete from a
                               current[j - 1] + 1,                   # insert into a
                               previous[j - 1] + (char_a != char_b)))  # substitute
        previous = current
    return previous[-1]


def box_centre(box: BoxLike) -> tuple[float, float]:
    """Centre (x, y) of an (x, y, w, h) box."""
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0


def contains_point(box: BoxLike, point: tuple[float, float]) -> bool:
    """Whether `point` lies inside the (x, y, w, h) box, edges included."""
    x, y, w, h = box
    px, py = point
    return x <= px <= x + w and y <= py <= y + h


def numbers_inside(truth_box: BoxLike, predicted_numbers: Iterable[dict]) -> list[str]:
    """Texts of the predicted numbers whose box centre lies inside `truth_box`, left to right."""
    inside = [n for n in predicted_numbers if contains_point(truth_box, box_centre(n["box"]))]
    inside.sort(key=lambda n: box_centre(n["box"])[0])
    return [str(n["text"]) for n in inside]


def reading_inside(truth_box: BoxLike, predicted_numbers: Iterable[dict]) -> str:
    """The predicted numbers whose box centre lies inside `truth_box`, joined left to right."""
    return "".join(numbers_inside(truth_box, predicted_numbers))


def score_frame(truth_numbers: list[dict], predicted_numbers: list[dict],
                predicted_digits: list[dict], ignore_boxes: Sequence[BoxLike] = ()) -> FrameScore:
    """Score one frame with truth boxes (scene truth `numbers`) against predicted dicts.

    Predicted digits centred in one of `ignore_boxes` are neither scored nor spurious.
    """
    numbers_exact = numbers_whole = chars_total = char_errors = 0
    for truth in truth_numbers:
        text = str(truth["text"])
        pieces = numbers_inside(truth["box"], predicted_numbers)
        reading = "".join(pieces)
        numbers_exact += reading == text
        numbers_whole += pieces == [text]
        chars_total += len(text)
        char_errors += levenshtein(reading, text)
    truth_boxes = [t["box"] for t in truth_numbers] + list(ignore_boxes)
    spurious = sum(
        1 for d in predicted_digits
        if not any(contains_point(box, box_centre(d["box"])) for box in truth_boxes))
    return FrameScore(numbers_total=len(truth_numbers), numbers_exact=numbers_exact,
                      numbers_whole=numbers_whole, chars_total=chars_total, char_errors=char_errors, spurious_digits=spurious)


def lines_in_reading_order(predicted_numbers: list[dict]) -> list[str]:
    """Group predicted numbers into text lines, top to bottom, each read left to right."""
    return ["".join(line) for line in numbers_in_reading_order(predicted_numbers)]


def numbers_in_reading_order(predicted_numbers: list[dict]) -> list[list[str]]:
    """Group predicted numbers into lines, top to bottom: each line the texts of its numbers,
    left to right.

    A number joins a line when its vertical centre is within half a digit height of the line's
    mean centre (the taller of the number and the line's median height), which tolerates the
    gentle slope and wobble of handwriting without merging neighbouring lines.
    """
    by_centre_y = sorted(predicted_numbers, key=lambda n: box_centre(n["box"])[1])
    lines: list[list[dict]] = []
    for number in by_centre_y:
        cy = box_centre(number["box"])[1]
        height = float(number["box"][3])
        if lines:
            line = lines[-1]
            line_cy = sum(box_centre(n["box"])[1] for n in line) / len(line)
            line_h = sorted(float(n["box"][3]) for n in line)[len(line) // 2]
            if abs(cy - line_cy) <= 0.5 * max(line_h, height):
                line.append(number)
                continue
        lines.append([number])
    return [[str(n["text"]) for n in sorted(line, key=lambda n: n["box"][0])] for line in lines]


def count_matching_lines(predicted_lines: Sequence[str | None],
                         truth_lines: Sequence[str]) -> int:
    """Longest in-order matching of whole lines (LCS length) between prediction and truth;
    a predicted line of None matches nothing."""
    previous = [0] * (len(truth_lines) + 1)
    for predicted in predicted_lines:
        current = [0]
        for j, truth in enumerate(truth_lines, start=1):
            current.append(previous[j - 1] + 1 if predicted == truth
                           else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def score_photo(truth: str, predicted_numbers: list[dict]) -> FrameScore:
    """Score one photo whose truth is text with lines separated by '/' (no boxes)."""
    truth_lines = [line for line in str(truth).strip().split("/") if line]
    truth_text = "".join(truth_lines)
    predicted_numbers_by_line = numbers_in_reading_order(predicted_numbers)
    predicted_lines = ["".join(line) for line in predicted_numbers_by_line]
    one_number_lines = [line[0] if len(line) == 1 else None for line in predicted_numbers_by_line]
    predicted_text = "".join(predicted_lines)
    return FrameScore(numbers_total=len(truth_lines),
                      numbers_exact=count_matching_lines(predicted_lines, truth_lines),
                      numbers_whole=count_matching_lines(one_number_lines, truth_lines),
                      chars_total=len(truth_text),
                      char_errors=levenshtein(predicted_text, truth_text),
                      spurious_digits=None)


def aggregate(frame_scores: Sequence[FrameScore], seconds: float | None = None) -> SetScore:
    """Add up frame scores; `seconds` is the reading time of those frames, for frames per second."""
    frames = len(frame_scores)
    numbers_total = sum(s.numbers_total for s in frame_scores)
    numbers_exact = sum(s.numbers_exact for s in frame_scores)
    numbers_whole = sum(s.numbers_whole for s in frame_scores)
    chars_total = sum(s.chars_total for s in frame_scores)
    char_errors = sum(s.char_errors for s in frame_scores)
    has_boxes = frames > 0 and all(s.spurious_digits is not None for s in frame_scores)
    spurious = sum(s.spurious_digits for s in frame_scores) if has_boxes else None
    return SetScore(
        frames=frames, numbers_total=numbers_total, numbers_exact=numbers_exact,
        numbers_whole=numbers_whole, chars_total=chars_total, char_errors=char_errors,
        spurious_digits=spurious,
        numbers_exact_pct=100.0 * numbers_exact / numbers_total if numbers_total else None,
        numbers_whole_pct=100.0 * numbers_whole / numbers_total if numbers_total else None,
        digit_accuracy_pct=100.0 * (1.0 - char_errors / chars_total) if chars_total else None,
        spurious_per_frame=spurious / frames if spurious is not None else None,
        fps=frames / seconds if seconds and frames else None)
