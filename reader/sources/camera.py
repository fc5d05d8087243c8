"""Cameras by index: open one, say what to do when none opens, list the ones that do."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import cv2

from reader.errors import UserError
from reader.opencv_log import quiet_opencv
from reader.sources.base import CaptureFactory
from reader.sources.live import LiveSource

# What a user without a working camera can run instead (the command's own options).
NO_CAMERA_HINT = "try --demo for the bundled clip, or give a video, photo or folder instead"


class CameraSource(LiveSource):
    """A camera by index (0 is the first); raises UserError at once if it does not open."""

    def __init__(self, index: int, *, stall_timeout_s: float = 5.0,
                 capture_factory: CaptureFactory | None = None) -> None:
        name = f"camera {index}"
        if index < 0:
            raise UserError(f"{name}: a camera index is 0 or more (0 is the first camera)")
        factory = capture_factory or cv2.VideoCapture
        with quiet_opencv():
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


def video_device_indices() -> list[int] | None:
    """The N of each /dev/videoN on Linux, in order; None where devices cannot be listed."""
    if not sys.platform.startswith("linux"):
        return None
    found = (re.fullmatch(r"video(\d+)", path.name) for path in Path("/dev").glob("video*"))
    return sorted(int(match[1]) for match in found if match)


def _camera_open_error(index: int) -> str:
    name = f"camera {index}"
    devices = video_device_indices()
    if devices is None:
        return (f"{name}: cannot open; check the camera is connected and not in use by another "
                f"program, or {NO_CAMERA_HINT}")
    if not devices:
        return f"{name}: cannot open; no cameras found (/dev/video* is empty): {NO_CAMERA_HINT}"
    present = ", ".join(map(str, devices))
    return (f"{name}: cannot open; video devices present: {present}; give one of those, or check that "
            f"no other program is using it and you are in the 'video' group, or {NO_CAMERA_HINT}")


def list_cameras(max_index: int = 5, *,
                 capture_factory: CaptureFactory | None = None) -> list[int]:
    """Camera indices 0..max_index (inclusive) that open; slow-ish (opens each device)."""
    factory = capture_factory or cv2.VideoCapture
    devices = video_device_indices()
    found = []
    for index in range(max_index + 1):
        # On Linux a camera index is /dev/videoN; skip absent ones without touching OpenCV.
        if devices is not None and index not in devices:
            continue
        with quiet_opencv():
            try:
                capture = factory(index)
            except cv2.error:
                continue
            if capture.isOpened():
                found.append(index)
            capture.release()
    return found
