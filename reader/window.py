"""The live window (OpenCV highgui): shows frames and turns key presses into actions."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from reader.errors import UserError
from reader.overlay import VIEW_MAX_WH

WINDOW_TITLE = "digit-reader"
HELP_LINES = [
    "q / Esc   quit",
    "space     pause / resume",
    ". (dot)   one frame on (while paused)",
    "other keys  next photo (photos, folders)",
    "s         snapshot (PNG + JSON)",
    "t         teach: save the patches by label",
    "d         debug view (mask + patches)",
    "c         captions on every digit / unsure only",
    "+ / -     threshold sensitivity",
    "h         this help",
]
KEY_ACTIONS = {ord("q"): "quit", 27: "quit", ord(" "): "pause", ord("."): "step",
               ord("s"): "snapshot", ord("t"): "teach", ord("d"): "debug",
               ord("c"): "captions", ord("+"): "more", ord("="): "more", ord("-"): "less",
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
            # squeezed when its first size was wrong); no Qt toolbar, so the frame gets the
            # whole window and is shown at its own size.
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO
                            | cv2.WINDOW_GUI_NORMAL)
        except cv2.error as exc:
            raise UserError(f"cannot open a window ({str(exc).strip().splitlines()[-1]});"
                            " use --no-display") from None
        self._shape: tuple[int, ...] | None = None
        self._caption = title

    def set_caption(self, caption: str) -> None:
        """The text in the window's title bar (the window keeps its name for the program)."""
        if caption != self._caption:
            cv2.setWindowTitle(self.title, caption)
            self._caption = caption

    def show(self, image: np.ndarray, wait_ms: int = 1) -> str | None:
        """Display `image`; return "quit", "pause", ..., "other" for an unbound key, or None
        when no key was pressed. Closing the window quits."""
        cv2.imshow(self.title, image)
        if image.shape[:2] != self._shape:  # each picture at its own size, shrunk to fit
            height, width = image.shape[:2]
            scale = min(1.0, VIEW_MAX_WH[0] / width, VIEW_MAX_WH[1] / height)
            cv2.resizeWindow(self.title, round(width * scale), round(height * scale))
            self._shape = image.shape[:2]
        key = cv2.waitKey(max(1, int(wait_ms)))
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
