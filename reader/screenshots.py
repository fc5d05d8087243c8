"""Drive the real window on a virtual X display: start it, press keys, read its title, grab it.

`scripts/screenshots.py` makes README's pictures with these helpers and the window test checks
the window with them, so the pictures and the test see the same thing. Needs Xvfb, xwd and
xdotool (Debian: apt-get install xvfb x11-apps xdotool); nothing here is used when reading.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent / "assets"
SCREEN_W, SCREEN_H = 1408, 1000  # room for the largest view (1280x800); an unusual size
TITLE = "digit-reader"


def tools_missing() -> list[str]:
    """The X tools this needs that are not installed."""
    return [tool for tool in ("Xvfb", "xwd", "xdotool") if shutil.which(tool) is None]


@contextmanager
def virtual_display() -> Iterator[str]:
    """An Xvfb display for the block; yields its DISPLAY name.

    X servers of other programs (other containers sharing the network namespace, whose /tmp
    we do not see) may hold a display number through its abstract socket, and clients would
    then reach their server instead of ours. So the number is random in a wide range, and the
    display is used only once a client sees a screen of our unusual size while our server is
    still running.
    """
    rng = random.Random()
    for _ in range(10):
        number = rng.randrange(1000, 30000)
        if Path(f"/tmp/.X{number}-lock").exists():
            continue
        # -noreset: an X server resets when its last client leaves, and a client connecting
        # during the reset (the reader, just after an xdotool call) fails to connect.
        server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0",
                                   f"{SCREEN_W}x{SCREEN_H}x24", "-nolisten", "tcp",
                                   "-noreset"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            ours = False
            while server.poll() is None and time.monotonic() < deadline:
                size = _xdotool(f":{number}", "getdisplaygeometry").split()
                if size:
                    time.sleep(0.2)  # a server that lost the number exits about now
                    ours = size == [str(SCREEN_W), str(SCREEN_H)] and server.poll() is None
                    break
                time.sleep(0.1)
            if not ours:
                continue  # taken by another server, or stuck: try another number
            yield f":{number}"
            return
        finally:
            server.terminate()
            server.wait(timeout=10)
    raise RuntimeError("Xvfb did not start")


def read_xwd(data: bytes) -> np.ndarray:
    """Decode a 24/32-bit ZPixmap XWD dump (what `xwd` writes) into a BGR image."""
    header = np.frombuffer(data[:100], ">u4")
    header_size, width, height = int(header[0]), int(header[4]), int(header[5])
    byte_order, bits_per_pixel, bytes_per_line = int(header[7]), int(header[11]), int(header[12])
    ncolors = int(header[19])
    if bits_per_pixel not in (24, 32):
        raise ValueError(f"xwd: {bits_per_pixel} bits per pixel is not supported")
    size = bits_per_pixel // 8  # rows may be padded beyond width * size (Xvfb pads to 4/pixel)
    start = header_size + 12 * ncolors
    rows = np.frombuffer(data[start:start + bytes_per_line * height], np.uint8)
    pixels = rows.reshape(height, bytes_per_line)[:, :width * size].reshape(height, width, size)
    # LSB-first pixels are stored B, G, R(, pad); MSB-first (pad,) R, G, B.
    return pixels[..., :3].copy() if byte_order == 0 else pixels[..., :size - 4:-1].copy()


def grab_screen(display: str) -> np.ndarray:
    """The whole virtual screen as a BGR image."""
    dump = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                          capture_output=True, check=True).stdout
    return read_xwd(dump)


def _xdotool(display: str, *args: str) -> str:
    try:
        return subprocess.run(["xdotool", *args], capture_output=True, text=True, check=False,
                              env={**os.environ, "DISPLAY": display}, timeout=20).stdout
    except subprocess.TimeoutExpired:
        return ""


def _window_id(display: str, title: str = TITLE) -> str | None:
    ids = _xdotool(display, "search", "--onlyvisible", "--name", title).split()
    return ids[-1] if ids else None


def window_region(display: str, title: str = TITLE) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the visible window whose title contains `title`, or None."""
    window = _window_id(display, title)
    if window is None:
        return None
    geometry = _xdotool(display, "getwindowgeometry", "--shell", window)
    values = dict(line.split("=", 1) for line in geometry.split())
    return tuple(int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))


def window_name(display: str, title: str = TITLE) -> str:
    """The full title of the window (it names the file shown), or "" when there is none."""
    window = _window_id(display, title)
    return _xdotool(display, "getwindowname", window).strip() if window else ""


def press(display: str, key: str, title: str = TITLE) -> None:
    """Send one key (an xdotool key name: "space", "period", "d") to the window."""
    # No window manager runs on Xvfb, so focus the window directly rather than "activate" it,
    # and wait until it has the focus: a key sent before that is lost.
    _xdotool(display, "search", "--onlyvisible", "--name", title, "windowfocus", "--sync",
             "key", key)


def start_reader(display: str, *args: str) -> subprocess.Popen:
    """`digit-reader ARGS` in a window on `display`."""
    return subprocess.Popen([sys.executable, "-m", "reader", *map(str, args)],
                            env={**os.environ, "DISPLAY": display}, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextmanager
def reader_window(display: str, *args: str) -> Iterator[subprocess.Popen]:
    """`digit-reader ARGS` in a window on `display`, stopped with SIGTERM at the end (killed if
    it does not stop)."""
    reader = start_reader(display, *args)
    try:
        yield reader
        # Not the q key: on Xvfb a window opened right after a reader quit on a key press
        # receives that q too, and the next reader would end on its first frame.
        reader.terminate()
        reader.wait(timeout=20)
    finally:
        if reader.poll() is None:
            reader.kill()


def wait_for(condition, timeout_s: float = 90, what: str = "the window",
             proc: subprocess.Popen | None = None):
    """Poll `condition()` until it returns something other than None; return that. Fails at
    once, with its stderr, if `proc` (the reader) has ended meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value is not None:
            return value
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"digit-reader ended (exit {proc.returncode}) before {what}"
                               f" appeared: {proc.stderr.read().strip()[-500:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not appear within {timeout_s} s")


def wait_for_window(display: str, title: str = TITLE, timeout_s: float = 90,
                    proc: subprocess.Popen | None = None):
    """The window's region once it is visible."""
    return wait_for(lambda: window_region(display, title), timeout_s, proc=proc)


def wait_for_title(display: str, text: str, timeout_s: float = 90,
                   proc: subprocess.Popen | None = None) -> str:
    """The window's title once it contains `text`."""
    def title_with_text() -> str | None:
        name = window_name(display)
        return name if text in name else None

    return wait_for(title_with_text, timeout_s, f"a window title with {text!r}", proc)


def grab_window(display: str, title: str = TITLE) -> np.ndarray:
    """The window as it is on screen now (BGR)."""
    x, y, w, h = wait_for_window(display, title)
    return grab_screen(display)[y:y + h, x:x + w]


def frame_area(window_bgr: np.ndarray) -> np.ndarray:
    """The part of a window grab that shows the frame: without the Qt toolbar, status bar and
    the window's plain background around a letterboxed frame."""
    gray = window_bgr.astype(np.int16)
    background = gray[-1, -1]  # the window's own background colour
    differs = np.abs(gray - background).sum(axis=2) > 12
    rows = np.flatnonzero(differs.mean(axis=1) > 0.5)
    cols = np.flatnonzero(differs.mean(axis=0) > 0.5)
    if not len(rows) or not len(cols):
        return window_bgr
    # The toolbar's icons differ from the background only in spots; the frame almost
    # everywhere, so rows where most pixels differ are the frame's.
    return window_bgr[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def large_scene_photo(path: Path, width: int = 4000, height: int = 3000, seed: int = 5,
                      data_dir: Path | None = None) -> Path:
    """A generated phone-sized photo of handwritten numbers (MNIST test digits) at `path`:
    a 640x480 scene enlarged, so digits fill the page as in a photo taken close up."""
    import cv2

    from reader.scenes.glyphs import mnist_test_glyphs
    from reader.scenes.still import SceneOptions, make_still

    scene = make_still(np.random.default_rng(seed), mnist_test_glyphs(data_dir),
                       options=SceneOptions(jpeg=False, max_lines=4))
    cv2.imwrite(str(path), cv2.resize(scene.image, (width, height),
                                      interpolation=cv2.INTER_CUBIC))
    return path


def readme_screenshots(out_dir: Path = ASSETS, large_photo: Path | None = None,
                       work_dir: Path | None = None) -> list[Path]:
    """README's pictures: the demo (live, debug view, help), a large photo shrunk to the window.

    `large_photo` defaults to a generated 4000x3000 scene. Returns the files written.
    """
    import tempfile

    import cv2

    shots: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as scratch, virtual_display() as display:
        if large_photo is None:
            large_photo = large_scene_photo(Path(work_dir or scratch) / "large-scene.png")
        teach_dir = Path(scratch) / "my-digits"
        with reader_window(display, "--demo", "--teach-dir", teach_dir) as reader:
            wait_for_title(display, "demo.mp4", proc=reader)
            time.sleep(3.0)  # let the clip play into a moment with several numbers
            press(display, "space")  # pause, so the pictures show one frame
            time.sleep(0.8)
            shots["screenshot-live.png"] = grab_window(display)
            press(display, "t")  # save its patches, as a user teaching it would
            press(display, "d")
            time.sleep(0.8)
            shots["screenshot-debug.png"] = grab_window(display)
            press(display, "d")
            press(display, "h")
            time.sleep(0.8)
            shots["screenshot-help.png"] = grab_window(display)
        with reader_window(display, large_photo) as reader:
            wait_for_title(display, Path(large_photo).name, proc=reader)
            time.sleep(1.5)
            # JPEG: the photo's paper grain makes a PNG of this size weigh over a megabyte.
            shots["screenshot-large-photo.jpg"] = grab_window(display)
        shots["screenshot-teach.png"] = teach_folder_picture(teach_dir)
    written = []
    for name, image in shots.items():
        path = Path(out_dir) / name
        options = [cv2.IMWRITE_JPEG_QUALITY, 90] if path.suffix == ".jpg" else []
        cv2.imwrite(str(path), image, options)
        written.append(path)
    return written


def teach_folder_picture(folder: Path, zoom: int = 2, per_row: int = 12) -> np.ndarray:
    """A picture of a teach folder: one row per label folder ("my-digits/7"), its patches."""
    import cv2

    side, gap, label_w = 28 * zoom, 6, 150
    rows = [(sub.name, sorted(sub.glob("*.png"))[:per_row])
            for sub in sorted(Path(folder).iterdir()) if sub.is_dir()]
    rows = [(name, files) for name, files in rows if files]
    picture = np.full((max(1, len(rows)) * (side + gap) + gap,
                       label_w + per_row * (side + gap) + gap, 3), 48, np.uint8)
    for row, (name, files) in enumerate(rows):
        y = gap + row * (side + gap)
        cv2.putText(picture, f"{Path(folder).name}/{name}/", (gap, y + side // 2 + 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        for column, path in enumerate(files):
            patch = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            patch = patch.repeat(zoom, axis=0).repeat(zoom, axis=1)
            x = label_w + column * (side + gap)
            picture[y:y + side, x:x + side] = patch[..., None]
    return picture
