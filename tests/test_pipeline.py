"""The Reader on hard frames: it never raises, keeps boxes inside the frame, and is repeatable."""

import cv2
import numpy as np
import pytest
from conftest import SHIPPED_MODEL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reader.pipeline import Reader

pytestmark = pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="no shipped model")


@pytest.fixture(scope="module")
def reader():
    return Reader()


def boxes_inside(result, frame) -> bool:
    height, width = frame.shape[:2]
    return all(0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= width and y + h <= height
               for item in [*result.digits, *result.numbers] for x, y, w, h in [item.box])


def paper_with_digits(mnist_digits, placements, size_hw=(480, 640)):
    """Dark MNIST digits on light paper at (x, y, height) placements; overlapping is allowed."""
    page = np.full(size_hw, 215, np.uint8)
    for image, (x, y, height) in zip(mnist_digits, placements):
        glyph = cv2.resize(image, (height, height), interpolation=cv2.INTER_LINEAR)
        region = page[y:y + height, x:x + height]
        glyph = glyph[:region.shape[0], :region.shape[1]]
        np.minimum(region, 255 - glyph, out=region)
    return page


@pytest.mark.parametrize("frame", [
    np.zeros((480, 640, 3), np.uint8),                                   # all black
    np.full((480, 640, 3), 255, np.uint8),                               # all white
    np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8),  # pure noise
    np.zeros((1, 1, 3), np.uint8),                                       # 1x1
    np.full((480, 640), 200, np.uint8),                                  # grayscale
    np.full((480, 640, 4), 200, np.uint8),                               # BGRA
    np.full((480, 640, 3), 40000, np.uint16),                            # 16-bit
    np.full((2, 3000, 3), 128, np.uint8),                                # a sliver
], ids=["black", "white", "noise", "1x1", "gray", "bgra", "16bit", "sliver"])
def test_odd_frames_read_without_raising(reader, frame):
    result = reader.read(frame)
    assert boxes_inside(result, frame)
    if frame.std() == 0:
        assert result.digits == []  # nothing to read on a uniform frame


def printed_page(ruled: bool) -> np.ndarray:
    page = np.full((480, 640, 3), 235, np.uint8)
    for row in range(20, 480, 24):
        if ruled:
            cv2.line(page, (0, row + 6), (639, row + 6), (200, 170, 150), 1)
        else:
            cv2.putText(page, "The quick brown fox jumps over the lazy dog, 1234567890.",
                        (10, row), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (30, 30, 30), 1)
    return page


@pytest.mark.parametrize("ruled", [False, True], ids=["printed-text", "ruled-lines"])
def test_pages_of_print_or_ruling_read_without_raising(reader, ruled):
    frame = printed_page(ruled)
    result = reader.read(frame)
    assert boxes_inside(result, frame)
    if ruled:
        assert result.digits == []  # ruling alone is no digit


def test_an_8k_frame_is_read_at_working_size(reader, glyph_images):
    frame = cv2.resize(paper_with_digits(glyph_images[:5], [(60 + 100 * i, 200, 70)
                                                             for i in range(5)]),
                       (7680, 4320), interpolation=cv2.INTER_NEAREST)
    result = reader.read(frame)
    assert len(result.digits) == 5 and boxes_inside(result, frame)
    # In the 8K frame's pixels: 12x the 640-px page (digits ~40 px there), not the work size.
    assert min(d.box[3] for d in result.digits) > 300


@pytest.fixture(scope="module")
def glyph_images():
    from reader.training.mnist import load_mnist
    return load_mnist().x_test[:200]


def test_thousands_of_specks_are_capped_at_max_candidates(reader, glyph_images):
    # The work per frame is bounded by the candidate cap, not by how many specks a frame holds
    # (speed itself is measured by scripts/bench.py, not asserted here).
    page = paper_with_digits(glyph_images[:10], [(30 + 60 * i, 200, 48) for i in range(10)])
    rng = np.random.default_rng(1)
    ys, xs = rng.integers(0, 480, 4000), rng.integers(0, 640, 4000)
    for y, x in zip(ys, xs):
        cv2.circle(page, (int(x), int(y)), 1, 30, -1)
    assert len(reader.read(page).patches) > 8  # more candidates than the cap below
    capped = Reader(max_candidates=8).read(page)
    assert capped.patches is not None and len(capped.patches) <= 8


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(height=st.integers(1, 260), width=st.integers(1, 260),
       channels=st.sampled_from([None, 1, 3, 4]), dtype=st.sampled_from([np.uint8, np.uint16]),
       seed=st.integers(0, 2**16))
def test_random_frames_never_raise_and_are_repeatable(reader, height, width, channels, dtype,
                                                      seed):
    shape = (height, width) if channels is None else (height, width, channels)
    frame = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    first, second = reader.read(frame), reader.read(frame)
    assert boxes_inside(first, frame)
    assert first.digits == second.digits and first.numbers == second.numbers


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(placements=st.lists(st.tuples(st.integers(-20, 640), st.integers(-20, 480),
                                     st.integers(8, 150)), min_size=0, max_size=12),
       first=st.integers(0, 180))
def test_random_digit_placements_keep_boxes_inside(reader, glyph_images, placements, first):
    placements = [(max(0, x), max(0, y), h) for x, y, h in placements]
    frame = paper_with_digits(glyph_images[first:first + len(placements)], placements)
    result = reader.read(frame)
    assert boxes_inside(result, frame)
    assert result.digits == reader.read(frame).digits


def test_tracking_reader_is_repeatable_from_a_reset(glyph_images):
    frames = [paper_with_digits(glyph_images[:4], [(100 + 80 * i + shift, 200, 50)
                                                   for i in range(4)]) for shift in range(0, 12, 3)]
    reader = Reader(track=True)
    first = [reader.read(f).digits for f in frames]
    reader.reset()
    assert [reader.read(f).digits for f in frames] == first


def test_read_times_each_stage_and_the_stages_add_up_to_the_frame(reader, glyph_images):
    frame = paper_with_digits(glyph_images[:6], [(40 + 90 * i, 200, 60) for i in range(6)])
    result = reader.read(frame)
    assert list(result.stage_ms) == ["gray", "threshold", "contours", "patches", "classify",
                                     "tracking", "numbers"]
    assert all(ms >= 0 for ms in result.stage_ms.values())
    # The stages run back to back: together they are the whole read, nothing untimed between.
    assert sum(result.stage_ms.values()) == pytest.approx(result.time_ms, rel=1e-6)
    assert reader.read(frame).stage_ms is not result.stage_ms  # each frame its own times
