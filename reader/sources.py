"""Where frames come from: one call, `open_source(spec)`, for a camera, video, photo, folder or URL.

Every source yields `Frame`s holding a 3-channel BGR uint8 image, so the stages after it never
have to care what the input was. Frames are produced by generators, so memory stays flat however
long the video or large the folder.

    with open_source("0") as source:          # camera 0; "clip.mp4", "photo.jpg", "scans/",
        for frame in source:                  # "rtsp://host/stream" work the same way
            result = reader.read(frame.image)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from reader.errors import RuntimeFailure, UserError

if TYPE_CHECKING:
    from typing import Self  # 3.11+; annotations are not evaluated at run time

log = logging.getLogger(__name__)

# Extensions decoded as photos (cv2.imdecode); anything else is tried as a video first.
# GIF is left out on purpose: FFmpeg reads animated GIFs as videos.
IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".jp2",
    ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".avif",
})
URL_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# A camera or stream that reports a frame rate outside this range is reporting nonsense
# (0, NaN, or an RTP clock of 90000); treat it as unknown.
PLAUSIBLE_FPS = (1.0, 240.0)

# Anything with read() -> (ok, image), isOpened(), release(), get(prop): cv2.VideoCapture or a fake.
CaptureFactory = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Frame:
    """One input picture: BGR uint8 (H, W, 3), its frame number, and where it came from."""

    image: np.ndarray
    index: int
    name: str


class FrameSource:
    """Iterable of `Frame`s; close it (or use `with`) to free the camera or file.

    Attributes the loop may look at:
      is_live: camera or stream; frames may be dropped so processing never lags behind.
      is_still: a photo or folder of photos; each frame is a separate picture.
      fps: frames per second the source reports, or None when unknown or not a video.
      skipped: files of a folder that were not images (folders only; 0 otherwise).
      dropped: live frames replaced by a newer one before the loop took them.
      stopped_early_at: for a video that ended before its stated length (truncated or corrupt),
        the number of frames read; None otherwise. Known once iteration has ended.
    Iterate a source once; a second loop continues where the first stopped (or yields nothing).
    """

    is_live = False
    is_still = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.fps: float | None = None
        self.skipped = 0
        self.dropped = 0
        self.stopped_early_at: int | None = None

    def __iter__(self) -> Iterator[Frame]:
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def open_source(spec: str | int | os.PathLike, *, stall_timeout_s: float = 5.0,
                open_timeout_s: float = 10.0,
                on_skip: Callable[[Path, str], None] | None = None) -> FrameSource:
    """Open a camera index (0 or "0"), video file, image file, folder of images or stream URL.

    Raises UserError (one line naming the file, device or URL) when it cannot be opened.
    A file literally named like a number can be given as "./0".
    """
    if isinstance(spec, bool):
        raise UserError(f"{spec}: not a camera index, file or URL")
    if isinstance(spec, int):
        return CameraSource(spec, stall_timeout_s=stall_timeout_s)
    text = os.fspath(spec)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text.strip().isascii() and text.strip().isdigit():
        return CameraSource(int(text), stall_timeout_s=stall_timeout_s)
    if URL_PATTERN.match(text) and not text.lower().startswith("file://"):
        return StreamSource(text, open_timeout_s=open_timeout_s, stall_timeout_s=stall_timeout_s)
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path, on_skip=on_skip)
    if not path.exists():
        raise UserError(f"{text}: no such file")
    if not path.is_file():
        raise UserError(f"{text}: not a regular file, folder, camera index or URL")
    try:
        with path.open("rb") as file:
            is_empty = not file.read(1)
    except OSError as exc:
        raise UserError(f"{text}: cannot read the file ({exc.strerror})") from None
    if is_empty:
        raise UserError(f"{text}: not a readable video or image (the file is empty)")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFileSource(path)
    try:
        return VideoFileSource(path)
    except UserError:
        # Not a video; it may still be a photo with an unusual or missing extension.
        if _decode_image_file(path) is not None:
            return ImageFileSource(path)
        raise


# --- normalising pictures --------------------------------------------------------------------

def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded picture as 3-channel BGR uint8; a no-op for frames that already are.

    Gray -> BGR; BGRA -> BGR composited over white (transparent background = blank paper, so
    dark ink drawn on a transparent PNG stays visible); 16-bit -> 8-bit scaled by the smallest
    bit depth that holds the image's largest value (so 12-bit data in a 16-bit file is not
    left nearly black); float -> 0..1 scaled to 0..255.
    """
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image
    if image.dtype != np.uint8:
        image = _to_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        alpha = image[:, :, 3:4].astype(np.float32) * (1.0 / 255.0)
        colour = image[:, :, :3].astype(np.float32)
        blended = colour * alpha + 255.0 * (1.0 - alpha)
        return np.round(blended).astype(np.uint8)
    if channels == 2:  # gray + alpha, as some decoders return it
        return to_bgr8(cv2.merge([image[:, :, 0]] * 3 + [image[:, :, 1]]))
    return np.ascontiguousarray(image[:, :, :3])


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(image.dtype, np.floating):
        peak = float(np.nanmax(image)) if image.size else 0.0
        scale = 255.0 if peak <= 1.0 else 1.0
        return np.clip(np.nan_to_num(image) * scale, 0, 255).astype(np.uint8)
    colour = image[:, :, :3] if image.ndim == 3 and image.shape[2] == 4 else image
    peak = int(colour.max()) if colour.size else 0
    bits = max(8, peak.bit_length())
    converted = cv2.convertScaleAbs(image.astype(np.float32), alpha=255.0 / ((1 << bits) - 1))
    if image.ndim == 3 and image.shape[2] == 4:
        # Alpha has its own full range, whatever the colour data uses.
        full_range = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype,
                                                                        np.integer) else 1.0
        converted[:, :, 3] = np.clip(image[:, :, 3] * (255.0 / full_range), 0, 255)
    return converted


def _decode_image_file(path: Path) -> np.ndarray | None:
    """Decode a photo to BGR uint8, or None if it is not one.

    np.fromfile + imdecode instead of imread, because imread cannot open non-ASCII paths on
    Windows. JPEGs are decoded with IMREAD_COLOR so their EXIF orientation (phone photos) is
    applied; other formats with IMREAD_UNCHANGED so alpha and 16-bit data reach to_bgr8
    instead of being dropped or truncated (their EXIF orientation, rare there, is ignored).
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    is_jpeg = data.size > 2 and data[0] == 0xFF and data[1] == 0xD8
    flags = cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    with _quiet_opencv():
        try:
            image = cv2.imdecode(data, flags)
        except cv2.error:
            return None
    if image is None or image.size == 0:
        return None
    return to_bgr8(image)


# --- photos and folders ----------------------------------------------------------------------

class ImageFileSource(FrameSource):
    """A single photo: one Frame, decoded when the source is opened so errors come first."""

    is_still = True

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        super().__init__(str(path))
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        self._image = _decode_image_file(path)
        if self._image is None:
            raise UserError(f"{path}: not a readable video or image")

    def _frames(self) -> Iterator[Frame]:
        if self._image is not None:
            image, self._image = self._image, None
            yield Frame(image, 0, self.name)

    def close(self) -> None:
        self._image = None


def _natural_key(name: str) -> list:
    # "scan2.png" before "scan10.png": numbered photos come out in the order they were taken.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


class FolderSource(FrameSource):
    """The photos of one folder in name order (numbers in names compare as numbers).

    Files that are not images are skipped, each reported once through `on_skip(path, reason)`
    (default: a logging warning) and counted in `.skipped`. Hidden files (".DS_Store") and the
    contents of sub-folders are ignored silently. Raises UserError for a folder without images.
    """

    is_still = True

    def __init__(self, folder: str | os.PathLike,
                 on_skip: Callable[[Path, str], None] | None = None) -> None:
        folder = Path(folder)
        super().__init__(str(folder))
        self._on_skip = on_skip or _log_skip
        try:
            entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")]
        except OSError as exc:
            raise UserError(f"{folder}: cannot read the folder ({exc.strerror})") from None
        self._paths = sorted(entries, key=lambda entry: _natural_key(entry.name))
        candidates = [p for p in self._paths if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not candidates:
            raise UserError(f"{folder}: no images in the folder (looked for .png, .jpg, .bmp, "
                            f".tif, .webp, ...)")
        self._closed = False

    def _frames(self) -> Iterator[Frame]:
        index = 0
        for path in self._paths:
            if self._closed:
                return
            if path.is_dir():
                self._skip(path, "a folder; sub-folders are not read")
                continue
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                self._skip(path, "not an image")
                continue
            image = _decode_image_file(path)
            if image is None:
                self._skip(path, "cannot be decoded as an image")
                continue
            yield Frame(image, index, path.name)
            index += 1
        if index == 0:
            raise UserError(f"{self.name}: none of the {self.skipped} files could be read "
                            "as images")

    def _skip(self, path: Path, reason: str) -> None:
        self.skipped += 1
        self._on_skip(path, reason)

    def close(self) -> None:
        self._closed = True


def _log_skip(path: Path, reason: str) -> None:
    log.warning("%s: skipped, %s", path, reason)


# --- video files -----------------------------------------------------------------------------

class VideoFileSource(FrameSource):
    """Every frame of a video file, in order, none dropped.

    A truncated or corrupt file yields what can be decoded; then `.stopped_early_at` holds the
    number of frames read and a warning is logged.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        super().__init__(str(path))
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        with _quiet_opencv():
            capture = cv2.VideoCapture(str(path))
            ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok or first is None:
            capture.release()
            raise UserError(f"{path}: not a readable video or image{_looks_like_video(path)}")
        self._capture = capture
        self._first: np.ndarray | None = first
        self.fps = _plausible_fps(capture.get(cv2.CAP_PROP_FPS))
        stated = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count: int | None = int(stated) if stated and stated > 0 else None

    def _frames(self) -> Iterator[Frame]:
        if self._first is None:
            return
        image, self._first = self._first, None
        index = 0
        while image is not None:
            yield Frame(to_bgr8(image), index, self.name)
            index += 1
            if self._capture is None:
                return
            ok, image = self._capture.read()
            if not ok:
                image = None
        self._note_end(index)

    def _note_end(self, frames_read: int) -> None:
        if self.frame_count is None:
            return
        # Some containers state an estimated length (duration x fps); allow a little slack so
        # only a real shortfall is reported.
        slack = max(2, round(0.01 * self.frame_count))
        if frames_read < self.frame_count - slack:
            self.stopped_early_at = frames_read
            log.warning("%s: video ended early at frame %d of %d (file truncated or corrupt)",
                        self.name, frames_read, self.frame_count)

    def close(self) -> None:
        self._first = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _looks_like_video(path: Path) -> str:
    """A hint for a file that has a video's signature but does not decode."""
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError:
        return ""
    if head[4:8] == b"ftyp":
        return " (MP4 without its index: truncated, or still being written?)"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return " (AVI that cannot be decoded: corrupt or unsupported codec?)"
    return ""


def _plausible_fps(fps: float) -> float | None:
    low, high = PLAUSIBLE_FPS
    return float(fps) if fps and low <= fps <= high else None


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_previous_level = 0


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV/FFmpeg's own stderr chatter while probing; our UserError says it better.

    OpenCV's log level is process-wide and camera reopen runs on another thread, so nested and
    concurrent uses are counted and the level is restored only when the last one ends.
    """
    global _quiet_depth, _quiet_previous_level
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_previous_level = logging_api.getLogLevel()
            logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logging_api.setLogLevel(_quiet_previous_level)


# --- cameras and streams ---------------------------------------------------------------------

class LiveSource(FrameSource):
    """A camera or stream read on a background thread that keeps only the newest frame.

    Why our own thread rather than imutils' WebcamVideoStream: that one never says when the
    camera fails (it keeps returning the last frame, so the loop would re-read a frozen
    picture forever), has no lock around the frame it hands over, and spins at full CPU on a
    dead device. This one hands each frame over once (the loop waits for a new one), counts
    the frames it had to drop, retries with back-off when reads fail (reopening the device
    every few failures), and raises RuntimeFailure after `stall_timeout_s` without a frame.
    """

    is_live = True
    BACKOFF_START_S = 0.05
    BACKOFF_MAX_S = 1.0
    REOPEN_EVERY_N_FAILURES = 3
    # The thread gives up after stall_timeout_s of failed reads; the loop waits this much longer
    # to catch a read() that hangs inside the driver and never returns.
    READ_HANG_MARGIN_S = 2.0

    def __init__(self, name: str, target: Any, capture_factory: CaptureFactory, capture: Any,
                 stall_timeout_s: float, hint: str) -> None:
        super().__init__(name)
        self._target = target
        self._capture_factory = capture_factory
        self._capture = capture
        self._stall_timeout_s = float(stall_timeout_s)
        self._hint = hint
        self.fps = _plausible_fps(_safe_get(capture, cv2.CAP_PROP_FPS))
        self._condition = threading.Condition()
        self._latest: np.ndarray | None = None
        self._captured = 0           # frames the device delivered so far
        self._failure: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_forever, name=f"read {name}",
                                        daemon=True)
        self._thread.start()

    def _read_forever(self) -> None:
        backoff_s = self.BACKOFF_START_S
        failures = 0
        last_frame_at = time.monotonic()
        while not self._stop.is_set():
            try:
                ok, image = self._capture.read()
            except cv2.error:
                ok, image = False, None
            if ok and image is not None:
                with self._condition:
                    self._latest = image
                    self._captured += 1
                    self._condition.notify_all()
                last_frame_at = time.monotonic()
                backoff_s, failures = self.BACKOFF_START_S, 0
                continue
            failures += 1
            stalled_s = time.monotonic() - last_frame_at
            if stalled_s >= self._stall_timeout_s:
                with self._condition:
                    self._failure = (f"{self.name}: no frames for {stalled_s:.0f} s; "
                                     f"{self._hint}")
                    self._condition.notify_all()
                return
            if self._stop.wait(backoff_s):
                return
            backoff_s = min(backoff_s * 2, self.BACKOFF_MAX_S)
            if failures % self.REOPEN_EVERY_N_FAILURES == 0:
                self._reopen()

    def _reopen(self) -> None:
        # Only this thread touches the capture while it runs, so swapping it here is safe.
        with contextlib.suppress(Exception):
            self._capture.release()
        try:
            with _quiet_opencv():
                self._capture = self._capture_factory(self._target)
        except Exception:  # noqa: BLE001 - a failed reopen is just another failed retry
            self._capture = _ClosedCapture()

    def _frames(self) -> Iterator[Frame]:
        taken = 0
        patience_s = self._stall_timeout_s + self.READ_HANG_MARGIN_S
        while True:
            deadline = time.monotonic() + patience_s
            with self._condition:
                while (self._captured == taken and self._failure is None
                       and not self._stop.is_set()):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise RuntimeFailure(f"{self.name}: no frames for {patience_s:.0f} s "
                                             f"(device not answering); {self._hint}")
                    self._condition.wait(min(remaining, 0.25))
                if self._captured == taken:
                    if self._failure is not None:
                        raise RuntimeFailure(self._failure)
                    return  # closed
                image, captured = self._latest, self._captured
            self.dropped += captured - taken - 1
            taken = captured
            yield Frame(to_bgr8(image), captured - 1, self.name)

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        self._thread.join(timeout=2.0)
        # Releasing while the thread is still inside read() can crash the driver; if it is
        # stuck, leave the (daemon) thread and its capture to process exit.
        if not self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._capture.release()


class _ClosedCapture:
    """Stands in for a capture that could not be reopened: every read fails."""

    def read(self) -> tuple[bool, None]:
        return False, None

    def isOpened(self) -> bool:  # cv2.VideoCapture's name
        return False

    def release(self) -> None:
        pass

    def get(self, prop: int) -> float:
        return 0.0


def _safe_get(capture: Any, prop: int) -> float:
    try:
        return float(capture.get(prop))
    except Exception:  # noqa: BLE001 - fakes and odd backends may not know a property
        return 0.0


class CameraSource(LiveSource):
    """A camera by index (0 is the first); raises UserError at once if it does not open."""

    def __init__(self, index: int, *, stall_timeout_s: float = 5.0,
                 capture_factory: CaptureFactory | None = None) -> None:
        name = f"camera {index}"
        if index < 0:
            raise UserError(f"{name}: a camera index is 0 or more; try --source 0")
        factory = capture_factory or cv2.VideoCapture
        with _quiet_opencv():
            try:
                capture = factory(index)
            except cv2.error:
                capture = None
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            raise UserError(_camera_open_error(index))
        super().__init__(name, index, factory, capture, stall_timeout_s,
                         hint="check the cable, or whether another program took the camera")


def _camera_open_error(index: int) -> str:
    name = f"camera {index}"
    if sys.platform.startswith("linux"):
        devices = sorted(Path("/dev").glob("video*"), key=lambda p: _natural_key(p.name))
        if not devices:
            return (f"{name}: cannot open; no cameras found (/dev/video* is empty): plug one in, "
                    "or give a video file, photo or folder with --source")
        present = " ".join(p.name for p in devices)
        return (f"{name}: cannot open; devices present: {present}; try --source 0, or check "
                "that no other program is using it and you are in the 'video' group")
    return (f"{name}: cannot open; try --source 0, and check the camera is connected and not "
            "in use by another program")


def list_cameras(max_index: int = 5) -> list[int]:
    """Camera indices 0..max_index (inclusive) that open; slow-ish (opens each device)."""
    found = []
    for index in range(max_index + 1):
        # On Linux a camera index is /dev/videoN; skip absent ones without touching OpenCV.
        if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
            continue
        with _quiet_opencv():
            capture = cv2.VideoCapture(index)
            if capture.isOpened():
                found.append(index)
            capture.release()
    return found


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and JSON output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _open_stream_capture(url: str, timeout_ms: int) -> Any:
    """cv2.VideoCapture for a URL with open/read time-outs where this OpenCV supports them."""
    params: list[int] = []
    for prop_name in ("CAP_PROP_OPEN_TIMEOUT_MSEC", "CAP_PROP_READ_TIMEOUT_MSEC"):
        if hasattr(cv2, prop_name):
            params += [getattr(cv2, prop_name), int(timeout_ms)]
    backend = cv2.CAP_FFMPEG if hasattr(cv2, "CAP_FFMPEG") else cv2.CAP_ANY
    return cv2.VideoCapture(url, backend, params) if params else cv2.VideoCapture(url, backend)


class StreamSource(LiveSource):
    """A network stream (rtsp://, http(s)://, ...), live like a camera.

    Opening is bounded by `open_timeout_s`, both through OpenCV's time-out properties and by a
    watchdog, since some backends ignore the properties.
    """

    def __init__(self, url: str, *, open_timeout_s: float = 10.0, stall_timeout_s: float = 5.0,
                 capture_factory: CaptureFactory | None = None) -> None:
        name = redact_url(url)
        timeout_ms = max(1, int(open_timeout_s * 1000))
        factory = capture_factory or (lambda target: _open_stream_capture(target, timeout_ms))
        started = time.monotonic()
        capture = _call_with_deadline(factory, url, open_timeout_s + 1.0)
        elapsed_s = time.monotonic() - started
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            if elapsed_s >= 0.9 * open_timeout_s:
                raise UserError(f"{name}: no answer after {open_timeout_s:g} s; check the address "
                                "and that the stream is running")
            raise UserError(f"{name}: cannot open the stream (refused, wrong path or not a video "
                            "stream); check the address")
        super().__init__(name, url, factory, capture, stall_timeout_s,
                         hint="the stream stopped sending; check the network and the sender")


def _call_with_deadline(factory: CaptureFactory, target: Any, deadline_s: float) -> Any:
    """factory(target), or None if it raised or did not return within deadline_s."""
    result: list[Any] = []

    def run() -> None:
        with contextlib.suppress(Exception), _quiet_opencv():
            result.append(factory(target))

    thread = threading.Thread(target=run, name="open stream", daemon=True)
    thread.start()
    thread.join(deadline_s)
    # A factory still running after the deadline is abandoned (daemon thread): OpenCV offers
    # no way to cancel an open.
    return result[0] if result and not thread.is_alive() else None
