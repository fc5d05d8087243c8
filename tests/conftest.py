"""Shared fixtures: generated scenes with known numbers, and running the real command.

Tests read MNIST from the sample shipped in tests/data/mnist (`MNIST_SAMPLE`): nothing outside
the repository, no network. A test that needs something from ../shared (the full MNIST, the
real photos) is skipped with a reason naming its shared/ path when it is not there; with
DIGIT_READER_REQUIRE_SHARED=1 (set by .ci/run, where ../shared is always there) such a skip is
a failure instead.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "models" / "digits.tflite"
MNIST_SAMPLE = REPO / "tests" / "data" / "mnist"
REQUIRE_SHARED = os.environ.get("DIGIT_READER_REQUIRE_SHARED") == "1"
# Nothing a test runs (in this process or a script it starts) falls back to Keras' MNIST
# download: tests read MNIST_SAMPLE, or ../shared where they say so.
os.environ["DIGIT_READER_NO_DOWNLOAD"] = "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SHARED and report.skipped and "shared/" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = (f"skipped, but DIGIT_READER_REQUIRE_SHARED=1 says ../shared is"
                           f" there: {report.longrepr}")


def run_reader(*args, timeout=120, env=None, **kwargs) -> subprocess.CompletedProcess:
    """`digit-reader ARGS` as a user runs it; headless unless `env` gives a DISPLAY."""
    run_env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "reader", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=run_env, check=False,
                          **kwargs)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture(scope="session")
def glyphs():
    from reader.scenes.glyphs import mnist_test_glyphs
    return mnist_test_glyphs(MNIST_SAMPLE)


@pytest.fixture(scope="session")
def scene_photos(tmp_path_factory, glyphs):
    """Three generated camera-like photos (PNG) with their truth."""
    from reader.scenes.still import SceneOptions, make_still, save_still

    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for seed in range(3):
        scene = make_still(np.random.default_rng(100 + seed), glyphs,
                           options=SceneOptions(jpeg=False))
        paths.append(save_still(scene, folder, f"scene{seed}"))
    return folder, paths


@pytest.fixture(scope="session")
def scene_video(tmp_path_factory, glyphs):
    """A 40-frame generated video of a moving camera over a page, with per-frame truth."""
    from reader.scenes.video import make_video

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    truth = make_video(path, np.random.default_rng(7), glyphs, n_frames=40)
    return path, truth
