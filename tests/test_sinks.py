"""Sinks: outputs are checked before work starts and never lose or break what was written."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from reader import sinks
from reader.detections import Number
from reader.errors import UserError
from reader.sinks import (
    CsvSink,
    ImageFolderSink,
    ImageSink,
    JsonLinesSink,
    VideoSink,
    check_writable,
    save_patches,
    save_snapshot,
)

HEIGHT, WIDTH = 48, 64


def frame(i: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.full((height, width, 3), (8 * i) % 256, np.uint8)


def count_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"{path} does not open"
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files a sink should not leave behind."""
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or p.name.endswith(
        ".tmp") or p.name.startswith(".write-test"))


# --- video -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["annotated.mp4", "annotated.avi"])
def test_video_sink_writes_every_frame(tmp_path, name):
    path = tmp_path / name
    with VideoSink(path, fps=30) as video:
        for i in range(12):
            video.write(frame(i))
    assert video.frames_written == 12
    assert count_frames(path) == 12
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("interruption", [ValueError("bug mid-run"), KeyboardInterrupt()])
def test_video_sink_keeps_frames_written_before_an_exception(tmp_path, interruption):
    path = tmp_path / "annotated.mp4"
    with pytest.raises(type(interruption)), VideoSink(path, fps=30) as video:
        for i in range(20):
            if i == 7:
                raise interruption
            video.write(frame(i))
    assert count_frames(path) == 7
    assert leftovers(tmp_path) == []


def test_video_sink_is_partial_until_closed(tmp_path):
    path = tmp_path / "annotated.avi"
    video = VideoSink(path, fps=30)
    video.write(frame(0))
    assert not path.exists() and (tmp_path / "annotated.partial.avi").exists()
    video.close()
    video.close()  # twice is fine
    assert path.exists() and count_frames(path) == 1


def test_video_sink_accepts_gray_and_odd_sized_frames(tmp_path):
    path = tmp_path / "mixed.avi"
    with VideoSink(path, fps=None, size=(WIDTH, HEIGHT)) as video:
        video.write(frame(1))
        video.write(np.zeros((HEIGHT, WIDTH), np.uint8))       # gray
        video.write(frame(2, height=30, width=40))             # another size: resized
    assert count_frames(path) == 3  # VideoWriter would silently drop the odd ones
    assert video.fps == sinks.DEFAULT_VIDEO_FPS


def test_video_sink_writes_nothing_when_no_frame_came(tmp_path):
    with VideoSink(tmp_path / "none.mp4", fps=30):
        pass
    assert list(tmp_path.iterdir()) == []


def test_video_sink_rejects_unknown_extension_before_any_work(tmp_path):
    with pytest.raises(UserError, match=r"out\.xyz: .*use \.mp4 or \.avi"):
        VideoSink(tmp_path / "out.xyz", fps=30)


# --- checking outputs up front ---------------------------------------------------------------

def test_check_writable_accepts_a_good_path_and_leaves_no_trace(tmp_path):
    assert check_writable(tmp_path / "out.mp4") == tmp_path / "out.mp4"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("make_output", "expected"), [
    (lambda tmp: tmp / "missing" / "out.mp4", "does not exist"),
    (lambda tmp: tmp, "is a folder"),
])
def test_check_writable_names_the_path_and_the_problem(tmp_path, make_output, expected):
    output = make_output(tmp_path)
    with pytest.raises(UserError) as caught:
        check_writable(output)
    assert str(caught.value).startswith(str(output))
    assert expected in str(caught.value)


def test_check_writable_reports_a_folder_that_refuses_writes(tmp_path):
    # chmod does not stop root, so when running as root use a folder no one can write to.
    if os.geteuid() == 0:
        if not Path("/proc/self").is_dir():
            pytest.skip("needs /proc")
        output = Path("/proc/annotated.mp4")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        output = locked / "annotated.mp4"
    with pytest.raises(UserError, match="cannot write to folder"):
        check_writable(output)


def test_check_writable_refuses_to_overwrite_the_input(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"x")
    with pytest.raises(UserError, match="is the input"):
        check_writable(photo, source=str(photo))
    with pytest.raises(UserError, match="is the input"):
        check_writable(tmp_path, is_folder=True, source=tmp_path)


def test_check_writable_creates_an_output_folder(tmp_path):
    folder = check_writable(tmp_path / "annotated", is_folder=True, source=tmp_path / "in")
    assert folder.is_dir()
    with pytest.raises(UserError, match="does not exist"):
        check_writable(tmp_path / "a" / "b", is_folder=True)


# --- photos ----------------------------------------------------------------------------------

def test_image_sink_round_trips_a_photo(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    path = ImageSink(tmp_path / "out.png").write(image)
    assert np.array_equal(cv2.imread(str(path)), image)
    assert leftovers(tmp_path) == []


def test_interrupted_photo_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    ImageSink(path).write(frame(1))
    before = path.read_bytes()

    def interrupted_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(sinks.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        ImageSink(path).write(frame(20))
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_image_sink_rejects_unknown_extension(tmp_path):
    with pytest.raises(UserError, match=r"out\.xyz"):
        ImageSink(tmp_path / "out.xyz")


def test_image_sink_without_extension_says_so(tmp_path):
    with pytest.raises(UserError, match=r"no file extension.*\.png"):
        ImageSink(tmp_path / "out")


def test_image_folder_sink_writes_one_photo_per_input(tmp_path):
    folder_sink = ImageFolderSink(tmp_path)
    written = [folder_sink.write(frame(i), name) for i, name in
               enumerate(["a.png", "b.jpg", "c.pgm", "c.png", "d.exr"])]
    # Gray-only and float formats cannot show a coloured overlay: PNG, without collisions.
    assert [p.name for p in written] == ["a.png", "b.jpg", "c.png", "c-2.png", "d.png"]
    assert all(cv2.imread(str(p)).shape == (HEIGHT, WIDTH, 3) for p in written)


# --- JSON lines ------------------------------------------------------------------------------

class CountingStream(io.StringIO):
    def __init__(self):
        super().__init__()
        self.flushed_at = []

    def flush(self):
        super().flush()
        self.flushed_at.append(self.getvalue())


def test_json_lines_are_one_compact_object_per_line_flushed_each_time():
    stream = CountingStream()
    records = [{"source": "clip.mp4", "frame": i, "time_ms": np.float32(1.5),
                "numbers": [{"text": "42", "box": np.array([1, 2, 3, 4])}]} for i in range(3)]
    with JsonLinesSink(stream) as json_sink:
        for record in records:
            json_sink.write(record)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and json_sink.lines_written == 3
    parsed = [json.loads(line) for line in lines]
    assert [p["frame"] for p in parsed] == [0, 1, 2]
    assert parsed[0]["numbers"][0]["box"] == [1, 2, 3, 4]
    assert " " not in lines[0].replace("clip.mp4", "")  # compact separators
    # After every write, the flushed text ends at a line end: no half lines.
    assert len(stream.flushed_at) >= 3
    assert all(text.endswith("\n") for text in stream.flushed_at)


def test_json_lines_default_to_stdout(capsys):
    JsonLinesSink().write({"frame": 0})
    assert capsys.readouterr().out == '{"frame":0}\n'


# --- snapshots -------------------------------------------------------------------------------

def test_snapshot_writes_png_and_json_side_by_side(tmp_path):
    folder = tmp_path / "snaps"
    result = {"source": "camera 0", "frame": 5, "numbers": [{"text": "7"}]}
    first = save_snapshot(folder, frame(3), result)
    second = save_snapshot(folder, frame(4), result)  # same millisecond: must not collide
    assert first != second
    for png in (first, second):
        assert png.suffix == ".png" and png.name.startswith("snapshot-")
        assert cv2.imread(str(png)).shape == (HEIGHT, WIDTH, 3)
        assert json.loads(png.with_suffix(".json").read_text()) == result
    assert leftovers(folder) == []


def test_mp4_says_which_codec_it_wrote(tmp_path):
    with VideoSink(tmp_path / "clip.mp4", fps=25) as video:
        for i in range(5):
            video.write(frame(i))
    # H.264 when this OpenCV build can encode it; otherwise the mp4v fallback, named as such.
    assert video.codec in ("H.264", "MPEG-4 part 2 (mp4v)")
    assert count_frames(tmp_path / "clip.mp4") == 5
    assert leftovers(tmp_path) == []


# --- CSV and patches -------------------------------------------------------------------------

def test_csv_has_one_row_per_number(tmp_path):
    import csv

    with CsvSink(tmp_path / "numbers.csv") as sink:
        sink.write("a.png", 0, [Number("307", 0.9912, (120, 80, 102, 46)),
                                Number("42", 0.5, (10, 200, 40, 30))])
        sink.write("b.png", 1, [])
        sink.write("c.png", 2, [Number("0815", 0.75, (1, 2, 3, 4))])
    with open(tmp_path / "numbers.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["source"], r["frame"], r["text"]) for r in rows] == [
        ("a.png", "0", "307"), ("a.png", "0", "42"), ("c.png", "2", "0815")]  # "0815" stays text
    assert rows[0]["confidence"] == "0.9912"
    assert [rows[0][k] for k in "xywh"] == ["120", "80", "102", "46"]


def test_patches_are_saved_by_label_as_the_network_sees_them_and_never_overwritten(tmp_path):
    patches = np.zeros((3, 28, 28), np.float32)
    patches[0, 4:24, 12:16] = 1.0      # a "1"
    patches[1, 6:22, 6:22] = 0.5       # gray levels are kept
    labels = np.array([1, 7, 10])      # 10: the model's "not a digit", not saved
    first = save_patches(tmp_path, patches, labels, "clips/page one.mp4", 12)
    again = save_patches(tmp_path, patches, labels, "clips/page one.mp4", 12)
    assert [p.parent.name for p in first] == ["1", "7"]
    assert first[0].name == "page_one-f000012-00.png"
    assert set(first).isdisjoint(again) and all(p.exists() for p in first + again)
    image = cv2.imread(str(first[0]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert (image == np.rint(patches[0] * 255)).all()
    assert cv2.imread(str(first[1]), cv2.IMREAD_UNCHANGED)[10, 10] in (127, 128)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "7"]
