"""Progress on long work: one line at a time on stderr, so stdout stays the program's output."""

from __future__ import annotations

import sys


def progress(message: str) -> None:
    """One progress line on stderr, shown at once (not held in a buffer)."""
    print(message, file=sys.stderr, flush=True)
