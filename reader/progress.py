"""Progress on long work, on stderr so stdout stays the program's output: one line at a time
(`progress`), or a bar redrawn in place on a terminal (`ProgressBar`)."""

from __future__ import annotations

import sys
import time


def progress(message: str) -> None:
    """One progress line on stderr, shown at once (not held in a buffer)."""
    print(message, file=sys.stderr, flush=True)


PROGRESS_EVERY_S = 0.25


class ProgressBar:
    """A one-line progress bar on stderr, redrawn in place (for a terminal only)."""

    WIDTH = 30

    def __init__(self, total: int | None) -> None:
        self.total, self.started, self.last = total, time.monotonic(), 0.0
        self.shown = False

    def update(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        elapsed = now - self.started
        if self.total:
            share = min(1.0, count / self.total)
            filled = round(share * self.WIDTH)
            eta = elapsed / share - elapsed if share else 0.0
            line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%} "
                    f"{count}/{self.total} frames, {elapsed:.0f} s, {eta:.0f} s left")
        else:
            line = f"{count} frames, {elapsed:.0f} s"
        sys.stderr.write(f"\r{line}\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False

    def done(self) -> None:
        self.clear()
