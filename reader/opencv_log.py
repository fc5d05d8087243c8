"""OpenCV's own log output, silenced while we probe files and devices that may not open.

Our UserError names the file and what to do; OpenCV's and FFmpeg's stderr lines about the same
failure only add noise. Used by the frame decoder and by the sources.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import cv2

_lock = threading.Lock()
_depth = 0
_previous_level = 0


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's log while the block runs; nested and concurrent uses are safe.

    OpenCV's log level is process-wide and a camera reopen runs on another thread, so uses are
    counted and the previous level is restored only when the last one ends.
    """
    global _depth, _previous_level
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _previous_level = logging_api.getLogLevel()
            logging_api.setLogLevel(logging_api.LOG_LEVEL_SILENT)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                logging_api.setLogLevel(_previous_level)
