"""Sources that read files: one photo, a folder of photos, or every frame of a video."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from reader.errors import UserError
from reader.frames import decode_image_file, to_bgr8
from reader.opencv_log import quiet_opencv
from reader.sources.base import Frame, FrameSource, plausible_fps

log = logging.getLogger(__name__)

# Extensions decoded as photos (cv2.imdecode); anything else is tried as a video first.
# GIF is left out on purpose: FFmpeg reads animated GIFs as videos.
IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".jp2",
    ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr", ".pic", ".avif",
})


# --- photos and folders ----------------------------------------------------------------------

class ImageFileSource(FrameSource):
    """A single photo: one Frame, decoded when the source is opened so errors come first."""

    is_still = True

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        super().__init__(str(path))
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        self._image = decode_image_file(path)
        if self._image is None:
            raise UserError(f"{path}: not a readable video or image")

    def _frames(self) -> Iterator[Frame]:
        if self._image is not None:
            image, self._image = self._image, None
            yield Frame(image, 0, self.name)

    def close(self) -> None:
        self._image = None


def natural_key(name: str) -> list:
    """Sort key that compares the numbers in names as numbers."""
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
        self._paths = sorted(entries, key=lambda entry: natural_key(entry.name))
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
            image = decode_image_file(path)
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
        with quiet_opencv():
            capture = cv2.VideoCapture(str(path))
            ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok or first is None:
            capture.release()
            raise UserError(f"{path}: not a readable video or image{_looks_like_video(path)}")
        self._capture = capture
        self._first: np.ndarray | None = first
        self.fps = plausible_fps(capture.get(cv2.CAP_PROP_FPS))
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
