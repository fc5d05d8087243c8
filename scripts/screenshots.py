#!/usr/bin/env python3
"""Screenshots of the live window for README, made from the demo clip on a virtual display.

Usage:
  python scripts/screenshots.py            # -> reader/assets/screenshot-{live,debug}.png

Needs Xvfb, xwd and xdotool (Debian: apt-get install xvfb x11-apps xdotool). The window test
uses the same helpers, so the pictures and the test see the same thing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "reader" / "assets"
SCREEN_W, SCREEN_H = 800, 600


def tools_missing() -> list[str]:
    """The X tools this needs that are not installed."""
    return [tool for tool in ("Xvfb", "xwd", "xdotool") if shutil.which(tool) is None]


@contextmanager
def virtual_display(number: int = 97):
    """An Xvfb display for the duration of the block; yields its DISPLAY name."""
    name = f":{number}"
    server = subprocess.Popen(["Xvfb", name, "-screen", "0", f"{SCREEN_W}x{SCREEN_H}x24",
                               "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb {name} did not start")
            time.sleep(0.05)
        yield name
    finally:
        server.terminate()
        server.wait(timeout=10)


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


def window_region(display: str, title: str) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the visible window with this title, or None."""
    env = {**os.environ, "DISPLAY": display}
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                           capture_output=True, text=True, env=env, check=False)
    ids = found.stdout.split()
    if not ids:
        return None
    geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", ids[-1]],
                              capture_output=True, text=True, env=env, check=False).stdout
    values = dict(line.split("=", 1) for line in geometry.split())
    return tuple(int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))


def press(display: str, title: str, key: str) -> None:
    """Send one key to the window with this title."""
    env = {**os.environ, "DISPLAY": display}
    # No window manager runs on Xvfb, so focus the window directly rather than "activate" it.
    subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title, "windowfocus",
                    "key", key], env=env, capture_output=True, check=False)


def start_reader(display: str, *args: str) -> subprocess.Popen:
    """`digit-reader ARGS` in a window on `display`."""
    return subprocess.Popen([sys.executable, "-m", "reader", *args],
                            env={**os.environ, "DISPLAY": display}, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_window(display: str, title: str = "digit-reader", timeout_s: float = 20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        region = window_region(display, title)
        if region is not None:
            return region
        time.sleep(0.1)
    raise RuntimeError("the digit-reader window did not appear")


def crop(image: np.ndarray, region) -> np.ndarray:
    x, y, w, h = region
    return image[y:y + h, x:x + w]


def main() -> int:
    import cv2

    missing = tools_missing()
    if missing:
        print(f"screenshots: missing {', '.join(missing)}; apt-get install xvfb x11-apps xdotool",
              file=sys.stderr)
        return 2
    with virtual_display() as display:
        reader = start_reader(display, "--demo")
        try:
            wait_for_window(display)
            time.sleep(2.0)  # let the clip play into a moment with several numbers
            press(display, "digit-reader", "space")  # pause, so both pictures show one frame
            time.sleep(0.5)
            region = window_region(display, "digit-reader")  # its size once the frame is shown
            live = crop(grab_screen(display), region)
            press(display, "digit-reader", "d")
            time.sleep(0.5)
            debug = crop(grab_screen(display), region)
        finally:
            reader.terminate()
            reader.wait(timeout=10)
    for name, image in (("screenshot-live.png", live), ("screenshot-debug.png", debug)):
        cv2.imwrite(str(ASSETS / name), image)
        print(f"wrote {ASSETS / name} ({image.shape[1]}x{image.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
