"""A real window on a virtual X display: it opens, draws the overlay, and obeys its keys."""

import sys
import time

import numpy as np
import pytest
from conftest import REPO, SHIPPED_MODEL

sys.path.insert(0, str(REPO / "scripts"))
import screenshots

pytestmark = [
    pytest.mark.display,
    pytest.mark.skipif(bool(screenshots.tools_missing()),
                       reason=f"needs {', '.join(screenshots.tools_missing())} (.ci/run installs"
                              " them)"),
    pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="no shipped model"),
]


def overlay_pixels(image_bgr: np.ndarray) -> int:
    """Pixels in the overlay's box colours (saturated green, yellow or red): paper has none."""
    b, g, r = (image_bgr[..., i].astype(int) for i in range(3))
    green = (g > 150) & (r < 80) & (b < 80)
    yellow = (g > 150) & (r > 200) & (b < 80)
    red = (r > 200) & (g < 80) & (b < 80)
    return int((green | yellow | red).sum())


def test_window_shows_boxes_and_obeys_keys(scene_photos):
    _, paths = scene_photos
    with screenshots.virtual_display(91) as display:
        reader = screenshots.start_reader(display, paths[0])
        try:
            screenshots.wait_for_window(display)
            time.sleep(1.5)  # let it read and draw
            region = screenshots.window_region(display, "digit-reader")
            live = screenshots.crop(screenshots.grab_screen(display), region)
            screenshots.press(display, "digit-reader", "d")
            time.sleep(1.0)
            debug = screenshots.crop(screenshots.grab_screen(display), region)
            screenshots.press(display, "digit-reader", "q")
            assert reader.wait(timeout=15) == 0
        finally:
            if reader.poll() is None:
                reader.kill()
    assert live.mean() > 60                      # the photo is on screen, not a blank window
    assert overlay_pixels(live) > 300            # with boxes drawn over its digits
    assert debug.mean() < live.mean() - 30       # d switched to the (dark) mask view


def test_unwritable_snapshot_folder_is_refused_before_the_window_opens(scene_photos, tmp_path):
    from conftest import run_reader

    with screenshots.virtual_display(92) as display:
        proc = run_reader(scene_photos[1][0], "--snapshots", tmp_path / "missing" / "snaps",
                          env={"DISPLAY": display}, timeout=60)
    assert proc.returncode == 2
    assert "snaps" in proc.stderr and "Traceback" not in proc.stderr
