"""Choosing a source: one call, `open_source(spec)`, turns what the user typed into frames."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from reader.errors import UserError
from reader.frames import decode_image_file
from reader.sources.base import FrameSource
from reader.sources.camera import CameraSource
from reader.sources.files import IMAGE_EXTENSIONS, FolderSource, ImageFileSource, VideoFileSource
from reader.sources.stream import StreamSource

URL_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def open_source(spec: str | int | os.PathLike, *, stall_timeout_s: float = 5.0,
                open_timeout_s: float = 10.0,
                on_skip: Callable[[Path, str], None] | None = None) -> FrameSource:
    """Open a camera index (0 or "0"), video file, image file, folder of images or stream URL.

    Raises UserError (one line naming the file, device or URL) when it cannot be opened.
    A file literally named like a number can be given as "./0".
    """
    if isinstance(spec, bool):
        raise UserError(f"{spec}: not a camera index, file or URL")
    if isinstance(spec, int):
        return CameraSource(spec, stall_timeout_s=stall_timeout_s)
    text = os.fspath(spec)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text.strip().isascii() and text.strip().isdigit():
        return CameraSource(int(text), stall_timeout_s=stall_timeout_s)
    if URL_PATTERN.match(text) and not text.lower().startswith("file://"):
        return StreamSource(text, open_timeout_s=open_timeout_s, stall_timeout_s=stall_timeout_s)
    if text.lower().startswith("file://"):
        text = text[len("file://"):]
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource(path, on_skip=on_skip)
    if not path.exists():
        raise UserError(f"{text}: no such file")
    if not path.is_file():
        raise UserError(f"{text}: not a regular file, folder, camera index or URL")
    try:
        with path.open("rb") as file:
            is_empty = not file.read(1)
    except OSError as exc:
        raise UserError(f"{text}: cannot read the file ({exc.strerror})") from None
    if is_empty:
        raise UserError(f"{text}: not a readable video or image (the file is empty)")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFileSource(path)
    try:
        return VideoFileSource(path)
    except UserError:
        # Not a video; it may still be a photo with an unusual or missing extension.
        if decode_image_file(path) is not None:
            return ImageFileSource(path)
        raise
