"""Frame sources: every input kind opens through one call, and every failure is one clear line."""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from reader.errors import RuntimeFailure, UserError
from reader.frames import to_bgr8
from reader.sources import (
    CameraSource,
    Frame,
    LiveSource,
    StreamSource,
    list_cameras,
    open_source,
    redact_url,
)
from reader.sources import camera as camera_module

SIZE_WH = (64, 48)


def write_video(path: Path, frame_count: int, fourcc: str = "mp4v") -> Path:
    """A small video whose frame i has brightness 8*i, so order can be checked."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, SIZE_WH)
    assert writer.isOpened()
    for i in range(frame_count):
        writer.write(np.full((SIZE_WH[1], SIZE_WH[0], 3), 8 * i, np.uint8))
    writer.release()
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    encoded.tofile(path)
    return path


# --- user errors name the file ---------------------------------------------------------------

def _missing(tmp: Path) -> Path:
    return tmp / "nothing here.mp4"


def _zero_bytes(tmp: Path) -> Path:
    path = tmp / "empty.mp4"
    path.touch()
    return path


def _text_named_mp4(tmp: Path) -> Path:
    path = tmp / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 20)
    return path


def _text_named_png(tmp: Path) -> Path:
    path = tmp / "notes.png"
    path.write_text("not a picture\n" * 20)
    return path


def _empty_folder(tmp: Path) -> Path:
    path = tmp / "no images"
    path.mkdir()
    return path


def _folder_without_images(tmp: Path) -> Path:
    path = tmp / "papers"
    path.mkdir()
    (path / "readme.txt").write_text("hi")
    return path


@pytest.mark.parametrize(("make_input", "expected"), [
    (_missing, "no such file"),
    (_zero_bytes, "not a readable video or image"),
    (_text_named_mp4, "not a readable video or image"),
    (_text_named_png, "not a readable video or image"),
    (_empty_folder, "no images"),
    (_folder_without_images, "no images"),
])
def test_bad_inputs_raise_one_line_user_error_naming_the_file(tmp_path, make_input, expected):
    path = make_input(tmp_path)
    with pytest.raises(UserError) as caught:
        open_source(str(path))
    message = str(caught.value)
    assert type(caught.value) is UserError  # exit code 2, not a runtime failure
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("spec", [99, "99"])
def test_camera_that_does_not_exist_is_a_one_line_user_error(spec):
    with pytest.raises(UserError) as caught:
        open_source(spec)
    message = str(caught.value)
    assert type(caught.value) is UserError
    assert message.startswith("camera 99: cannot open")
    assert "\n" not in message


def test_no_camera_at_all_suggests_the_demo_and_a_file(monkeypatch):
    monkeypatch.setattr(camera_module, "video_device_indices", list)
    with pytest.raises(UserError) as caught:
        CameraSource(0, capture_factory=lambda index: FakeCapture(opened=False))
    message = str(caught.value)
    assert message.startswith("camera 0: cannot open; no cameras found")
    assert "--demo" in message and "video, photo or folder" in message
    assert "--source" not in message  # the command has no such option
    assert "\n" not in message


def test_camera_that_does_not_open_names_the_devices_there_are(monkeypatch):
    monkeypatch.setattr(camera_module, "video_device_indices", lambda: [0, 2])
    with pytest.raises(UserError) as caught:
        CameraSource(5, capture_factory=lambda index: FakeCapture(opened=False))
    assert "video devices present: 0, 2" in str(caught.value)
    assert "--source" not in str(caught.value)


def test_truncated_mp4_without_index_says_it_looks_truncated(tmp_path):
    whole = write_video(tmp_path / "whole.mp4", 30)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cut\.mp4: not a readable video.*truncated"):
        open_source(cut)


# --- videos ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "fourcc"), [("clip.mp4", "mp4v"), ("clip.avi", "MJPG")])
def test_video_yields_every_frame_in_order(tmp_path, name, fourcc):
    path = write_video(tmp_path / name, 30, fourcc)
    with open_source(path) as source:
        frames = list(source)
    assert len(frames) == 30
    assert [f.index for f in frames] == list(range(30))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    brightness = [float(f.image.mean()) for f in frames]
    assert brightness == sorted(brightness)  # decoded in order
    assert source.stopped_early_at is None
    assert source.fps == pytest.approx(30.0)
    assert not source.is_live and not source.is_still


def test_truncated_video_yields_what_it_can_and_reports_where_it_stopped(tmp_path, caplog):
    whole = write_video(tmp_path / "whole.avi", 30, "MJPG")
    cut = tmp_path / "cut.avi"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING), open_source(cut) as source:
        frames = list(source)  # must not raise
    assert 0 < len(frames) < 30
    assert source.stopped_early_at == len(frames)
    assert any("ended early" in r.getMessage() and "cut.avi" in r.getMessage()
               for r in caplog.records)


def test_video_is_a_generator_not_a_list(tmp_path):
    path = write_video(tmp_path / "clip.mp4", 10)
    with open_source(path) as source:
        first = next(iter(source))
    assert isinstance(first, Frame) and first.index == 0 and first.name == str(path)


# --- photos ----------------------------------------------------------------------------------

def test_grayscale_photo_comes_out_bgr_uint8(tmp_path):
    gray = np.full((20, 30), 77, np.uint8)
    with open_source(write_png(tmp_path / "gray.png", gray)) as source:
        (frame,) = list(source)
    assert frame.image.shape == (20, 30, 3) and frame.image.dtype == np.uint8
    assert (frame.image == 77).all()
    assert source.is_still and not source.is_live and source.fps is None


def test_transparent_photo_becomes_ink_on_white(tmp_path):
    bgra = np.zeros((20, 30, 4), np.uint8)            # fully transparent black...
    bgra[5:10, 5:10] = (0, 0, 200, 255)               # ...with an opaque red square
    with open_source(write_png(tmp_path / "drawing.png", bgra)) as source:
        (frame,) = list(source)
    assert frame.image.shape == (20, 30, 3) and frame.image.dtype == np.uint8
    assert tuple(frame.image[0, 0]) == (255, 255, 255)
    assert tuple(frame.image[7, 7]) == (0, 0, 200)


@pytest.mark.parametrize(("peak", "channels"), [(65535, 1), (65535, 3), (4095, 1)])
def test_16_bit_photo_is_scaled_to_8_bit(tmp_path, peak, channels):
    ramp = np.linspace(0, peak, 30).astype(np.uint16)
    image = np.tile(ramp, (20, 1))
    if channels == 3:
        image = np.dstack([image] * 3)
    with open_source(write_png(tmp_path / "deep.png", image)) as source:
        (frame,) = list(source)
    assert frame.image.shape == (20, 30, 3) and frame.image.dtype == np.uint8
    assert frame.image.min() == 0 and frame.image.max() == 255  # 12-bit data is not left dark


def test_photo_with_non_ascii_path(tmp_path):
    folder = tmp_path / "Ziffern äöü 数字"
    folder.mkdir()
    path = write_png(folder / "zähler_7.png", np.full((8, 8, 3), 9, np.uint8))
    with open_source(str(path)) as source:
        (frame,) = list(source)
    assert frame.image.shape == (8, 8, 3)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    pil_image = pytest.importorskip("PIL.Image")
    stored = np.zeros((20, 40, 3), np.uint8)
    picture = pil_image.fromarray(stored)
    exif = picture.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees to display": a phone held upright
    path = tmp_path / "phone.jpg"
    picture.save(path, exif=exif.tobytes())
    with open_source(path) as source:
        (frame,) = list(source)
    assert frame.image.shape == (40, 20, 3)


@pytest.mark.parametrize("image", [
    np.zeros((4, 5), np.uint8),
    np.zeros((4, 5, 1), np.uint8),
    np.zeros((4, 5, 4), np.uint8),
    np.zeros((4, 5, 3), np.uint16),
    np.zeros((4, 5, 3), np.float32),
])
def test_to_bgr8_always_gives_three_channel_uint8(image):
    converted = to_bgr8(image)
    assert converted.shape == (4, 5, 3) and converted.dtype == np.uint8


def test_to_bgr8_leaves_bgr_frames_alone():
    frame = np.zeros((4, 5, 3), np.uint8)
    assert to_bgr8(frame) is frame  # no copy on the live path


# --- folders ---------------------------------------------------------------------------------

def test_folder_yields_images_in_name_order_and_counts_skipped_files(tmp_path, caplog):
    for name in ["img10.png", "b.png", "img2.png", "a.jpg"]:
        image = np.full((10, 12, 3), 50, np.uint8)
        _, encoded = cv2.imencode(Path(name).suffix, image)
        encoded.tofile(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_text("not an image either")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    skipped = []
    with caplog.at_level(logging.WARNING):
        source = open_source(tmp_path, on_skip=lambda path, reason: skipped.append(path.name))
        frames = list(source)
    assert [f.name for f in frames] == ["a.jpg", "b.png", "img2.png", "img10.png"]
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert source.skipped == 3
    assert sorted(skipped) == ["broken.png", "notes.txt", "sub"]
    assert source.is_still

    # Without a callback, each skipped file is one warning naming it.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        list(open_source(tmp_path))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert any("notes.txt" in m for m in messages)


def test_folder_whose_images_all_fail_to_decode_is_a_user_error(tmp_path):
    (tmp_path / "a.png").write_text("x")
    (tmp_path / "b.jpg").write_text("y")
    source = open_source(tmp_path, on_skip=lambda path, reason: None)
    with pytest.raises(UserError, match="none of the 2 files"):
        list(source)


# --- cameras (fake captures injected) --------------------------------------------------------

class FakeCapture:
    """A camera: `good_reads` frames, then `fail_reads` failed reads (None: fail forever),
    then frames again. Frame k (1-based) has brightness k % 256."""

    def __init__(self, good_reads=10**9, fail_reads=0, read_delay_s=0.002, opened=True):
        self.good_reads, self.fail_reads = good_reads, fail_reads
        self.read_delay_s, self.opened = read_delay_s, opened
        self.reads = 0
        self.released = False

    def isOpened(self):  # cv2.VideoCapture's name
        return self.opened

    def read(self):
        time.sleep(self.read_delay_s)
        self.reads += 1
        if self.reads > self.good_reads and (
                self.fail_reads is None or self.reads <= self.good_reads + self.fail_reads):
            return False, None
        return True, np.full((6, 8, 3), self.reads % 256, np.uint8)

    def get(self, prop):
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.released = True


def test_camera_that_does_not_open_is_a_user_error():
    with pytest.raises(UserError, match="^camera 3: cannot open"):
        CameraSource(3, capture_factory=lambda index: FakeCapture(opened=False))


def test_camera_that_stops_delivering_raises_runtime_failure_after_retries():
    opened = []

    def factory(index):
        capture = FakeCapture(good_reads=0 if opened else 3, fail_reads=None)
        opened.append(capture)
        return capture

    source = CameraSource(0, stall_timeout_s=0.5, capture_factory=factory)
    frames = []
    with source, pytest.raises(RuntimeFailure) as caught:
        frames.extend(source)
    assert 1 <= len(frames) <= 3
    # Given up by the reader after the 0.5 s stall timeout and its retries, not by the
    # loop's last-resort watchdog for hung reads.
    assert str(caught.value).startswith("camera 0: no frames for")
    assert "not answering" not in str(caught.value)
    assert len(opened) > 1  # it tried to reopen the device before giving up
    assert source.is_live and source.fps == 30.0


def test_camera_hiccup_shorter_than_the_stall_timeout_is_ridden_out():
    capture = FakeCapture(good_reads=5, fail_reads=4)  # ~0.75 s of failed reads with back-off
    source = CameraSource(0, stall_timeout_s=3.0, capture_factory=lambda index: capture)
    with source:
        for frame in source:
            if frame.image[0, 0, 0] > 9:  # a frame from after the hiccup
                break
    assert capture.reads > 9


def test_live_source_keeps_only_the_newest_frame_so_processing_never_lags():
    capture = FakeCapture(read_delay_s=0.002)
    with CameraSource(0, capture_factory=lambda index: capture) as source:
        frames = iter(source)
        first = next(frames)
        time.sleep(0.2)  # a slow frame of processing
        reads_before = capture.reads
        second = next(frames)
        assert second.index - first.index > 5
        # The newest frame captured by then (frame k has index k-1), not a queued old one.
        assert second.index + 1 >= reads_before - 1
        assert source.dropped > 0
    assert capture.released


def test_camera_read_that_hangs_raises_runtime_failure(monkeypatch):
    monkeypatch.setattr(LiveSource, "READ_HANG_MARGIN_S", 0.3)
    unblock = threading.Event()

    class HangingCapture(FakeCapture):
        def read(self):
            unblock.wait(5)
            return False, None

    source = CameraSource(0, stall_timeout_s=0.3, capture_factory=lambda i: HangingCapture())
    try:
        with pytest.raises(RuntimeFailure, match="camera 0: no frames.*not answering"):
            next(iter(source))
    finally:
        unblock.set()
        source.close()


def test_list_cameras_gives_the_indices_that_open_and_releases_every_device(monkeypatch):
    monkeypatch.setattr(camera_module, "video_device_indices", lambda: [0, 1, 2, 7])
    opened = {}

    def factory(index):
        opened[index] = FakeCapture(opened=index in (0, 2))
        return opened[index]

    assert list_cameras(max_index=3, capture_factory=factory) == [0, 2]
    assert sorted(opened) == [0, 1, 2]  # /dev/video3 is absent: not even tried
    assert all(capture.released for capture in opened.values())


# --- streams ---------------------------------------------------------------------------------

def test_stream_that_accepts_but_never_answers_times_out():
    # A socket that listens but never speaks: the connection opens, no video ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://viewer:secret@127.0.0.1:{silent.getsockname()[1]}/video"
        with pytest.raises(UserError) as caught:
            open_source(url, open_timeout_s=1.0)
    message = str(caught.value)
    assert "no answer after 1 s" in message
    assert "127.0.0.1" in message and "secret" not in message


def test_stream_on_a_port_nothing_listens_on_fails_quickly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"rtsp://127.0.0.1:{port}/live"
    with pytest.raises(UserError) as caught:
        StreamSource(url, open_timeout_s=2.0)
    # Refused at once, not waited out: the message says so instead of "no answer after".
    assert str(caught.value).startswith(f"{url}: cannot open the stream")


def test_stream_that_opens_after_its_deadline_is_released_not_leaked(monkeypatch):
    monkeypatch.setattr(StreamSource, "OPEN_GRACE_S", 0.1)
    released = threading.Event()

    class LateCapture(FakeCapture):
        def release(self):
            super().release()
            released.set()

    def slow_open(url):
        time.sleep(0.5)  # past the 0.1 s open time-out and its 0.1 s grace below
        return LateCapture()

    with pytest.raises(UserError, match="no answer after"):
        StreamSource("rtsp://cam.local/live", open_timeout_s=0.1, capture_factory=slow_open)
    assert released.wait(5.0), "the capture opened after the deadline was never released"


def test_stream_is_live_and_hands_over_frames():
    capture = FakeCapture()
    with StreamSource("rtsp://cam.local/live", capture_factory=lambda url: capture) as source:
        frame = next(iter(source))
    assert source.is_live and frame.name == "rtsp://cam.local/live"
    assert frame.image.shape == (6, 8, 3)


@pytest.mark.parametrize(("url", "expected"), [
    ("rtsp://admin:hunter2@10.0.0.5:554/s1", "rtsp://admin:***@10.0.0.5:554/s1"),
    ("http://cam.local/video", "http://cam.local/video"),
])
def test_passwords_are_kept_out_of_names(url, expected):
    assert redact_url(url) == expected
