"""Network streams (rtsp://, http(s)://, ...): live like a camera, with bounded waits."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2

from reader.errors import UserError
from reader.opencv_log import quiet_opencv
from reader.sources.base import CaptureFactory
from reader.sources.live import LiveSource


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

    # The watchdog waits this much longer than the open time-out OpenCV was given.
    OPEN_GRACE_S = 1.0

    def __init__(self, url: str, *, open_timeout_s: float = 10.0, stall_timeout_s: float = 5.0,
                 capture_factory: CaptureFactory | None = None) -> None:
        name = redact_url(url)
        timeout_ms = max(1, int(open_timeout_s * 1000))
        factory = capture_factory or (lambda target: _open_stream_capture(target, timeout_ms))
        started = time.monotonic()
        capture = _call_with_deadline(factory, url, open_timeout_s + self.OPEN_GRACE_S)
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
    """factory(target), or None if it raised or did not return within deadline_s.

    OpenCV offers no way to cancel an open, so a factory still running at the deadline is left
    to finish on its (daemon) thread; whatever it opens then is released there, not leaked.
    """
    lock = threading.Lock()
    opened: list[Any] = []
    abandoned = False

    def run() -> None:
        capture = None
        with contextlib.suppress(Exception), quiet_opencv():
            capture = factory(target)
        with lock:
            if not abandoned:
                opened.append(capture)
                return
        if capture is not None:
            with contextlib.suppress(Exception):
                capture.release()

    thread = threading.Thread(target=run, name="open stream", daemon=True)
    thread.start()
    thread.join(deadline_s)
    with lock:
        if opened:
            return opened[0]
        abandoned = True
        return None
