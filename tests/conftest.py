"""Shared fixtures: generated scenes with known numbers, and running the real command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = REPO / "models" / "digits.tflite"


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
    return mnist_test_glyphs()


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
