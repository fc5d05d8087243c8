"""Live sources: a camera or stream read on a background thread that keeps the newest frame.

`CameraSource` (camera.py) and `StreamSource` (stream.py) differ only in how the capture is
opened; reading, dropping stale frames, retrying and giving up are shared here.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from reader.errors import RuntimeFailure
from reader.frames import to_bgr8
from reader.opencv_log import quiet_opencv
from reader.sources.base import CaptureFactory, Frame, FrameSource, plausible_fps


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
        self.fps = plausible_fps(_safe_get(capture, cv2.CAP_PROP_FPS))
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
            with quiet_opencv():
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
