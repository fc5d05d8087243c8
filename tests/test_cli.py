"""The digit-reader command end to end: what it reads, its JSON contract, outputs and errors."""

import json
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO, SHIPPED_MODEL, json_lines, run_reader

from reader.eval.scoring import score_frame

pytestmark = pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="no shipped model")


def score(truth_frames, readings):
    totals = np.zeros(4)
    for truth, reading in zip(truth_frames, readings):
        s = score_frame(truth["numbers"], reading["numbers"], reading["digits"])
        totals += (s.numbers_total, s.numbers_exact, s.chars_total, s.char_errors)
    return totals[1] / totals[0], 1 - totals[3] / totals[2]


def test_reads_the_numbers_of_generated_photos(scene_photos):
    folder, paths = scene_photos
    proc = run_reader(folder, "--no-display", "--json")
    assert proc.returncode == 0, proc.stderr
    readings = json_lines(proc.stdout)
    assert [r["source"] for r in readings] == [p.name for p in paths]  # sorted, one per photo
    truths = [json.loads(p.with_suffix(".json").read_text()) for p in paths]
    numbers_exact, digit_accuracy = score(truths, readings)
    assert numbers_exact >= 0.8 and digit_accuracy >= 0.95, (numbers_exact, digit_accuracy)


def test_reads_the_numbers_of_a_generated_video(scene_video):
    path, truth = scene_video
    proc = run_reader(path, "--no-display", "--json")
    assert proc.returncode == 0, proc.stderr
    readings = json_lines(proc.stdout)
    assert [r["frame"] for r in readings] == list(range(len(truth["frames"])))
    # Tracking needs a frame or two to confirm unsure digits: score from frame 3 on.
    numbers_exact, digit_accuracy = score(truth["frames"][3:], readings[3:])
    assert numbers_exact >= 0.8 and digit_accuracy >= 0.95, (numbers_exact, digit_accuracy)


def test_json_lines_follow_the_contract(scene_video):
    path, truth = scene_video
    proc = run_reader(path, "--no-display", "--json")
    width, height = truth["width"], truth["height"]
    for line in proc.stdout.splitlines():
        frame = json.loads(line)
        assert set(frame) == {"source", "frame", "time_ms", "digits", "numbers"}
        assert isinstance(frame["source"], str) and isinstance(frame["frame"], int)
        assert isinstance(frame["time_ms"], float) and frame["time_ms"] > 0
        for item in frame["digits"] + frame["numbers"]:
            x, y, w, h = item["box"]
            assert all(isinstance(v, int) for v in item["box"])
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height and w > 0 and h > 0
            assert 0.0 <= item["confidence"] <= 1.0
        for digit in frame["digits"]:
            assert set(digit) == {"label", "confidence", "box"} and 0 <= digit["label"] <= 9
        for number in frame["numbers"]:
            assert set(number) == {"text", "confidence", "box"} and number["text"].isdigit()


def test_output_video_has_every_frame_annotated(scene_video, tmp_path):
    path, truth = scene_video
    out = tmp_path / "annotated.mp4"
    proc = run_reader(path, "--no-display", "--output", out)
    assert proc.returncode == 0, proc.stderr
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(truth["frames"])
    ok, first = capture.read()
    original = cv2.VideoCapture(str(path)).read()[1]
    assert ok and np.abs(first.astype(int) - original).max() > 100  # boxes were drawn


def test_output_photo_is_written(scene_photos, tmp_path):
    _, paths = scene_photos
    out = tmp_path / "annotated.png"
    proc = run_reader(paths[0], "--no-display", "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert cv2.imread(str(out)).shape == cv2.imread(str(paths[0])).shape


def test_headless_run_prints_one_line_per_row_and_a_summary(scene_photos, tmp_path):
    folder, paths = scene_photos
    # No --no-display: there is no display here, so it says so and prints what it reads.
    proc = run_reader(folder, "--csv", tmp_path / "numbers.csv")
    assert proc.returncode == 0
    assert "no display" in proc.stderr
    readings = json_lines(run_reader(folder, "--json").stdout)
    most_lines = 0
    for path, reading in zip(paths, readings):
        lines = [line for line in proc.stdout.splitlines() if line.startswith(path.name + ":")]
        printed = [line.split(":", 1)[1].split() for line in lines]
        read = sorted(n["text"] for n in reading["numbers"])
        assert sorted(t for row in printed for t in row) == read
        # One line per row of numbers, top to bottom, each row left to right.
        box = {n["text"]: n["box"] for n in reading["numbers"]}
        centres_y = [[box[t][1] + box[t][3] / 2 for t in row] for row in printed]
        assert [c[0] for c in centres_y] == sorted(c[0] for c in centres_y)
        for row in printed:
            first = box[row[0]]
            assert all(first[1] <= box[t][1] + box[t][3] / 2 <= first[1] + first[3] for t in row)
            assert [box[t][0] for t in row] == sorted(box[t][0] for t in row)
        most_lines = max(most_lines, len(lines))
    assert most_lines >= 2  # the pages hold several rows
    assert "3 photo(s) read in" in proc.stderr and "different number(s) seen" in proc.stderr
    csv_rows = (tmp_path / "numbers.csv").read_text().splitlines()
    assert csv_rows[0] == "source,frame,text,confidence,x,y,w,h"
    assert len(csv_rows) - 1 == sum(len(r["numbers"]) for r in readings)


def test_progress_bar_on_a_terminal_only():
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "reader", "--demo", "--no-display"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the pty reports EIO once the program has ended
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert b"/200 frames" in terminal and b"%" in terminal
    piped = run_reader("--demo", "--no-display")
    assert "/200 frames" not in piped.stderr  # not in a log file or a pipe


def test_closed_stdout_ends_the_run_with_exit_141_and_keeps_the_video(tmp_path):
    out = tmp_path / "annotated.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "reader", "--demo", "--no-display",
                             "--output", str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.close()  # `| head -1` has read what it wanted
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, stderr
    assert "stdout was closed" in stderr and "Traceback" not in stderr
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) > 0


def test_output_video_says_which_codec(scene_video, tmp_path):
    proc = run_reader(scene_video[0], "--no-display", "--output", tmp_path / "a.mp4")
    assert proc.returncode == 0
    assert "a.mp4 (H.264)" in proc.stderr or "a.mp4 (MPEG-4 part 2" in proc.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_keeps_whole_json_lines_and_a_playable_video(tmp_path, signum):
    out = tmp_path / "annotated.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "reader", "--demo", "--no-display", "--json",
                             "--output", str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # Interrupt as soon as two frames are out: the clip's other ~200 frames are still to come.
    first_lines = proc.stdout.readline() + proc.stdout.readline()
    proc.send_signal(signum)
    rest, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = json_lines(first_lines + rest)
    assert 2 <= len(lines) < 200  # stopped part-way, every line whole
    frames = int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert frames >= len(lines) - 1


def test_stdout_holds_only_json_even_when_files_are_skipped(tmp_path, scene_photos):
    _, paths = scene_photos
    (tmp_path / "a.png").write_bytes(paths[0].read_bytes())
    (tmp_path / "notes.txt").write_text("not a photo")
    proc = run_reader(tmp_path, "--no-display", "--json")
    assert proc.returncode == 0
    assert [r["source"] for r in json_lines(proc.stdout)] == ["a.png"]
    assert "notes.txt" in proc.stderr


def _tiny_model(path, input_shape, classes):
    import keras
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(classes, activation="softmax")])
    model.export(str(path), format="litert", verbose=False)
    return path


@pytest.fixture(scope="module")
def wrong_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    garbage = folder / "garbage.tflite"
    garbage.write_bytes(b"this is not a flatbuffer" * 10)
    keras_file = folder / "model.keras"
    keras_file.write_bytes(b"PK\x03\x04 a Keras training artifact")
    return {
        "missing": (folder / "nope.tflite", "not found"),
        "corrupt": (garbage, "not a readable"),
        "keras file": (keras_file, "needs the exported .tflite"),
        "wrong input": (_tiny_model(folder / "rgb.tflite", (32, 32, 3), 10), "28x28x1"),
        "wrong classes": (_tiny_model(folder / "letters.tflite", (28, 28, 1), 26), "26 output"),
    }


@pytest.mark.parametrize("case", ["missing", "corrupt", "keras file", "wrong input",
                                  "wrong classes"])
def test_bad_models_are_one_line_and_exit_2(wrong_models, scene_photos, case):
    model, message = wrong_models[case]
    proc = run_reader(scene_photos[1][0], "--no-display", "--model", model)
    assert proc.returncode == 2
    assert message in proc.stderr and str(model) in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("make_input, message", [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: (d / "notes.mp4").write_text("hello") and d / "notes.mp4", "not a readable"),
    (lambda d: (d / "empty.png").write_bytes(b"") or d / "empty.png", "empty.png"),
    (lambda d: "99", "camera 99"),
])
def test_bad_sources_are_one_line_and_exit_2(tmp_path, make_input, message):
    source = make_input(tmp_path)
    proc = run_reader(source, "--no-display")
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("source, args, message", [
    ("video", ["--output", "{tmp}/annotated.xyz"], "annotated.xyz: cannot write .xyz video"),
    ("photo", ["--output", "{tmp}/annotated"], "annotated: no file extension"),
    ("folder", ["--output", "{tmp}/annotated.png"], "--output must be a folder"),
    ("photo", ["--sensitivity", "5"], "--sensitivity 5.0: give a value in [-1, 1]"),
])
def test_usage_errors_are_one_line_and_exit_2(scene_photos, scene_video, tmp_path, source, args,
                                             message):
    given = {"video": scene_video[0], "photo": scene_photos[1][0], "folder": scene_photos[0]}
    proc = run_reader(given[source], "--no-display", *(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing made (no folder named annotated.png)


def test_unwritable_output_is_refused_before_reading(scene_photos, tmp_path):
    proc = run_reader(scene_photos[1][0], "--no-display", "--json",
                      "--output", tmp_path / "no" / "such" / "out.png")
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and proc.stdout == ""


def test_help_lists_the_keys():
    proc = run_reader("--help")
    assert proc.returncode == 0
    for key in ("q, Esc", "space", "snapshot", "debug view", "+ / -", "help overlay"):
        assert key in proc.stdout
