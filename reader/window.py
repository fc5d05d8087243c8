"""The live window (OpenCV highgui): shows frames and turns key presses into actions."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from reader.errors import UserError

WINDOW_TITLE = "digit-reader"
MAX_VIEW_WH = (1280, 800)  # the window opens no larger than this
HELP_LINES = [
    "q / Esc  quit",
    "space    pause / resume",
    "s        snapshot (PNG + JSON)",
    "d        debug view (mask + patches)",
    "+ / -    threshold sensitivity",
    "h        this help",
]
KEY_ACTIONS = {ord("q"): "quit", 27: "quit", ord(" "): "pause", ord("s"): "snapshot",
               ord("d"): "debug", ord("+"): "more", ord("="): "more", ord("-"): "less",
               ord("h"): "help"}


def display_available() -> bool:
    """False on a Linux machine with no X or Wayland display (a server, CI, ssh without -X)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
    """One resizable window; `show` draws a frame and returns the action of the key pressed."""

    def __init__(self, title: str = WINDOW_TITLE):
        self.title = title
        try:
            # Resizable, keeping the frame's aspect (an autosized Qt window can draw the frame
            # squeezed when its first size was wrong).
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as exc:
            raise UserError(f"cannot open a window ({str(exc).strip().splitlines()[-1]});"
                            " use --no-display") from None
        self._sized = False

    def show(self, image: np.ndarray, wait_ms: int = 1) -> str | None:
        """Display `image`; return "quit", "pause", ..., "other" for an unbound key, or None
        when no key was pressed. Closing the window quits."""
        if not self._sized:  # open at the frame's size (shrunk to fit a screen); then the user's
            scale = min(1.0, MAX_VIEW_WH[0] / image.shape[1], MAX_VIEW_WH[1] / image.shape[0])
            cv2.resizeWindow(self.title, round(image.shape[1] * scale),
                             round(image.shape[0] * scale))
            self._sized = True
        cv2.imshow(self.title, image)
        key = cv2.waitKey(wait_ms)
        if cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return KEY_ACTIONS.get(key & 0xFF, "other") if key >= 0 else None

    def close(self) -> None:
        cv2.destroyWindow(self.title)
        cv2.waitKey(1)  # lets highgui process the close

    def __enter__(self) -> Window:  # noqa: PYI034 -- Window is final
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
