"""Where results go: annotated video, annotated photos, JSON lines, CSV, snapshots, patches.

Every sink is written so an interruption never loses work already done and never leaves a
broken file: video is written under a ".partial" name and renamed when closed (with `with`, also
on exceptions and Ctrl-C), photos and snapshots are written to a temporary name and renamed, and
JSON lines are flushed one whole line at a time.

Check outputs before processing starts, so a bad path fails in the first second, not after an
hour of video:

    out_path = check_writable(args.output, source=args.source)
    with VideoSink(out_path, fps=source.fps) as video:
        for frame in source:
            video.write(draw(frame.image, reader.read(frame.image)))
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import cv2
import numpy as np

from reader.atomic import write_bytes_atomically
from reader.errors import RuntimeFailure, UserError
from reader.frames import to_bgr8
from reader.native import native_stderr_silenced

if TYPE_CHECKING:
    from typing import Self  # 3.11+; annotations are not evaluated at run time

# mp4v and MJPG ship with every opencv-python wheel; H.264 (which browsers play) often does not,
# so MP4 tries it first and falls back to mp4v (MPEG-4 part 2).
VIDEO_FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG",
                          ".mkv": "MJPG"}
H264_FOURCC = "avc1"
H264_SUFFIXES = frozenset({".mp4", ".m4v", ".mov"})
CODEC_NAMES = {"avc1": "H.264", "mp4v": "MPEG-4 part 2 (mp4v)", "MJPG": "Motion JPEG"}
DEFAULT_VIDEO_FPS = 30.0  # when the source does not say (cameras often report 0)


def check_writable(path: str | os.PathLike, *, is_folder: bool = False,
                   source: str | os.PathLike | int | None = None) -> Path:
    """Fail now, with a UserError naming the path, if output cannot be written there.

    For a file: its folder must exist and accept a new file, and the path must not be a
    folder. For a folder (`is_folder=True`, one output photo per input photo): it is created
    if its parent exists. If `source` is the same file or folder, refuse, so the input is not
    overwritten. Returns the path to use.
    """
    path = Path(path).expanduser()
    if is_folder:
        if path.exists() and not path.is_dir():
            raise UserError(f"{path}: exists and is not a folder; give a folder for the "
                            "annotated photos")
        if not path.exists():
            if not path.parent.is_dir():
                raise UserError(f"{path}: folder {path.parent} does not exist; create it first")
            try:
                path.mkdir()
            except OSError as exc:
                raise UserError(f"{path}: cannot create the folder ({exc.strerror})") from None
        folder = path
    else:
        if path.is_dir():
            raise UserError(f"{path}: is a folder; give a file name such as "
                            f"{path / 'annotated.mp4'}")
        folder = path.parent
        if not folder.exists():
            raise UserError(f"{path}: folder {folder} does not exist; create it first")
        if not folder.is_dir():
            raise UserError(f"{path}: {folder} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(f"{path}: cannot write to folder {folder} ({exc.strerror}); "
                        "choose another output") from None
    if source is not None and not isinstance(source, int) and _same_path(path, source):
        raise UserError(f"{path}: is the input; choose another output so it is not "
                        "overwritten")
    return path


def _same_path(output: Path, source: str | os.PathLike) -> bool:
    try:
        return output.resolve() == Path(source).expanduser().resolve()
    except (OSError, RuntimeError):
        return False


def check_image_suffix(path: str | os.PathLike) -> None:
    """UserError unless OpenCV can write a photo with this file name's extension."""
    path = Path(path)
    if not path.suffix:
        raise UserError(f"{path}: no file extension; name the photo .png or .jpg")
    if not cv2.haveImageWriter(str(path)):
        raise UserError(f"{path}: cannot write {path.suffix} images; use .png or .jpg")


def check_video_suffix(path: str | os.PathLike) -> None:
    """UserError unless VideoSink can write a video with this file name's extension."""
    path = Path(path)
    if not path.suffix:
        raise UserError(f"{path}: no file extension; name the video .mp4 or .avi")
    if path.suffix.lower() not in VIDEO_FOURCC_BY_SUFFIX:
        raise UserError(f"{path}: cannot write {path.suffix} video; use .mp4 or .avi")


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write `data` whole or not at all (reader.atomic); a failure is one line naming the file."""
    try:
        write_bytes_atomically(path, data)
    except OSError as exc:
        raise RuntimeFailure(f"{path}: cannot write ({exc.strerror})") from None


def write_image_atomically(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Encode `image` by the path's extension and write it atomically; returns the path."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", to_bgr8(image))
    if not ok:
        raise RuntimeFailure(f"{path}: cannot encode the image as {path.suffix}")
    _write_bytes_atomically(path, encoded.tobytes())
    return path


class VideoSink:
    """Annotated video: H.264 for .mp4/.m4v/.mov when OpenCV can write it, else mp4v; MJPG for
    .avi/.mkv. `codec` names the one used once the first frame is written.

    Opens on the first frame (taking its size when `size` (width, height) is not given).
    Frames of another size are resized, because cv2.VideoWriter silently drops them otherwise.
    The file is written as NAME.partial.EXT and renamed to NAME.EXT by close(), which `with`
    calls on any exit, so the result is playable with every frame written so far; a hard kill
    leaves only the .partial file. `frames_written` counts what went in.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None,
                 size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        check_video_suffix(self.path)
        self._fourcc = VIDEO_FOURCC_BY_SUFFIX[suffix]
        self._try_h264 = suffix in H264_SUFFIXES
        self.fps = float(fps) if fps and 0 < fps <= 1000 else DEFAULT_VIDEO_FPS
        self.size = (int(size[0]), int(size[1])) if size else None
        self.frames_written = 0
        self._partial_path = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        self._writer: cv2.VideoWriter | None = None

    @property
    def codec(self) -> str:
        """The codec in use (or to be tried first), e.g. "H.264" or "MPEG-4 part 2 (mp4v)"."""
        return CODEC_NAMES.get(self._fourcc, self._fourcc)

    def _open(self, size: tuple[int, int]) -> None:
        writer = None
        if self._try_h264:
            with native_stderr_silenced():  # FFmpeg prints its encoder search when H.264 is missing
                writer = cv2.VideoWriter(str(self._partial_path),
                                         cv2.VideoWriter_fourcc(*H264_FOURCC), self.fps, size)
            if writer.isOpened():
                self._fourcc = H264_FOURCC
            else:
                writer.release()
                writer = None
                with contextlib.suppress(OSError):
                    self._partial_path.unlink()
        if writer is None:
            writer = cv2.VideoWriter(str(self._partial_path),
                                     cv2.VideoWriter_fourcc(*self._fourcc), self.fps, size)
        if not writer.isOpened():
            writer.release()
            raise UserError(f"{self.path}: cannot write a {self._fourcc} video there; "
                            "try a .avi output")
        self._writer = writer
        self.size = size

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append one frame (BGR uint8; gray or BGRA are converted)."""
        frame = to_bgr8(frame_bgr)
        height, width = frame.shape[:2]
        if self._writer is None:
            self._open(self.size or (width, height))
        if (width, height) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and give it its final name; safe to call more than once."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        writer.release()
        try:
            os.replace(self._partial_path, self.path)
        except OSError as exc:
            raise RuntimeFailure(f"{self.path}: cannot finish the video ({exc.strerror}); "
                                 f"frames so far are in {self._partial_path}") from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ImageSink:
    """One annotated photo, written atomically (a later write replaces it)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        check_image_suffix(self.path)

    def write(self, frame_bgr: np.ndarray, name: str | None = None) -> Path:
        """Write the photo; `name` is accepted for symmetry with ImageFolderSink and ignored."""
        return write_image_atomically(self.path, frame_bgr)

    def close(self) -> None:
        """Nothing to finish: every write is complete on its own."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ImageFolderSink:
    """One annotated photo per input photo, under the input's file name, in `folder`.

    Inputs in formats that cannot hold a colour overlay (.pgm, .pbm, .exr, .hdr, ...) are
    written as .png; if that makes two names collide, the later gets "-2", "-3", ... Call
    check_writable(folder, is_folder=True, source=input_folder) first so the inputs cannot be
    overwritten.
    """

    KEEP_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff",
                               ".webp", ".ppm", ".jp2"})

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UserError(f"{self.folder}: no such folder; create it first")
        self._names_written: set[str] = set()

    def write(self, frame_bgr: np.ndarray, name: str) -> Path:
        """Write `frame_bgr` as folder/name (see above for renames); returns the path written."""
        path = self.folder / Path(name).name
        if path.suffix.lower() not in self.KEEP_SUFFIXES:
            path = path.with_suffix(".png")
        stem, copy = path.stem, 2
        while path.name in self._names_written:
            path = path.with_name(f"{stem}-{copy}{path.suffix}")
            copy += 1
        self._names_written.add(path.name)
        return write_image_atomically(path, frame_bgr)

    def close(self) -> None:
        """Nothing to finish: every write is complete on its own."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    # Results may carry NumPy numbers; plain json cannot encode them.
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonLinesSink:
    """Exactly one compact JSON object per line, flushed line by line (default: stdout).

    Each line is built completely before it is written in one call, so a consumer reading the
    pipe (or an interruption) sees only whole lines. Nothing else is written to the stream.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.lines_written = 0

    def write(self, obj: dict) -> None:
        """Write one object as one line and flush it."""
        line = json.dumps(obj, separators=(",", ":"), default=_json_default) + "\n"
        self.stream.write(line)
        self.stream.flush()
        self.lines_written += 1

    def close(self) -> None:
        """Flush; the stream itself stays open (it is usually stdout)."""
        with contextlib.suppress(ValueError, OSError):
            self.stream.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def save_snapshot(folder: str | os.PathLike, frame_bgr: np.ndarray,
                  result_json: dict) -> Path:
    """Save the frame as snapshot-YYYYmmdd-HHMMSS-mmm.png with the result as .json beside it.

    Both are written atomically, the PNG first, so a .json always has its picture. The folder
    is created if needed. Returns the PNG's path.
    """
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeFailure(f"{folder}: cannot create the snapshot folder "
                             f"({exc.strerror})") from None
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    stem = f"snapshot-{stamp}-{int(now * 1000) % 1000:03d}"
    png_path = folder / f"{stem}.png"
    copy = 2
    while png_path.exists() or png_path.with_suffix(".json").exists():
        png_path = folder / f"{stem}-{copy}.png"
        copy += 1
    write_image_atomically(png_path, frame_bgr)
    text = json.dumps(result_json, indent=2, default=_json_default) + "\n"
    _write_bytes_atomically(png_path.with_suffix(".json"), text.encode("utf-8"))
    return png_path


class CsvSink:
    """One row per number read: source, frame, text, confidence, x, y, w, h (box in pixels).

    For spreadsheets. Rows are flushed frame by frame, so an interrupted run keeps what it read.
    """

    HEADER = ("source", "frame", "text", "confidence", "x", "y", "w", "h")

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write ({exc.strerror})") from None
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.HEADER)
        self.rows_written = 0

    def write(self, source: str, frame_index: int, numbers) -> None:
        """One row per `Number` of one frame."""
        for number in numbers:
            self._writer.writerow([source, int(frame_index), number.text,
                                   f"{float(number.confidence):.4f}",
                                   *(int(v) for v in number.box)])
            self.rows_written += 1
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def save_patches(folder: str | os.PathLike, patches: np.ndarray, labels, source: str,
                 frame_index: int) -> list[Path]:
    """Save 28x28 patches (float in [0, 1], white ink on black, as the network sees them) as
    PNGs in folder/LABEL/, Keras' image_dataset_from_directory layout, for `--extra-data`.

    Names say where each came from (SOURCE-fFRAME-INDEX.png); an existing file is never
    overwritten (the new one gets "-2", "-3", ...). Patches the model calls "not a digit"
    (labels outside 0-9) are not saved. Returns the paths written.
    """
    folder = Path(folder).expanduser()
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(str(source)).stem)
    written = []
    for index, (patch, label) in enumerate(zip(patches, labels)):
        label = int(label)
        if not 0 <= label <= 9:
            continue
        pixels = np.clip(np.rint(np.asarray(patch, np.float32) * 255.0), 0, 255).astype(np.uint8)
        ok, encoded = cv2.imencode(".png", pixels)
        if not ok:
            raise RuntimeFailure(f"{folder}: cannot encode a patch as PNG")
        class_folder = folder / str(label)
        try:
            class_folder.mkdir(parents=True, exist_ok=True)
            name, copy = f"{stem}-f{int(frame_index):06d}-{index:02d}", 1
            while True:
                path = class_folder / (f"{name}.png" if copy == 1 else f"{name}-{copy}.png")
                try:
                    with open(path, "xb") as file:  # "x": fails rather than overwrite
                        file.write(encoded.tobytes())
                    break
                except FileExistsError:
                    copy += 1
        except OSError as exc:
            raise RuntimeFailure(f"{folder}: cannot save patches ({exc.strerror})") from None
        written.append(path)
    return written
