"""Files written whole or not at all: written under a temporary name beside the target, renamed.

The rename is atomic, so a reader of the file, a crash or Ctrl-C sees the old file or the
complete new one, never half of it. The one place in the package that renames a finished file
over its target (a video sink's ".partial" file, kept on purpose when a run stops, is the other).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp_path)`, then rename the result to `path`; on any failure remove it.

    The temporary name is hidden (leading ".") and keeps the extension, for writers that choose
    the format by it (Keras, cv2.VideoWriter). The folder is created if missing. Errors, OSError
    included, are re-raised after the clean-up: the caller words them for its user.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{''.join(path.suffixes)}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))
