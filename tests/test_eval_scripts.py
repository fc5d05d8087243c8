"""The comparison readers behave as documented, and evaluate.py / bench.py run end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import MNIST_SAMPLE

from reader.eval.baseline import boxes_usual, patch_usual, threshold_usual
from reader.eval.harness import Method, evaluate
from reader.eval.peers import Peer, PeerPaths, build_peer
from reader.eval.rapidocr import lines_to_result
from reader.eval.scene_sets import find_scenes, generate_scenes
from reader.eval.tesseract import parse_tsv
from reader.pipeline import Reader

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL = REPO_ROOT / "models" / "digits.tflite"
PHOTOS = REPO_ROOT.parent / "shared" / "eval" / "photos"
needs_model = pytest.mark.skipif(not MODEL.is_file(),
                                 reason="models/digits.tflite not trained yet (scripts/train.py)")
needs_photos = pytest.mark.skipif(not (PHOTOS / "truth.tsv").is_file(),
                                  reason=f"{PHOTOS}/truth.tsv not present")

TSV_HEADER = ("level page_num block_num par_num line_num word_num left top width height conf"
              " text").replace(" ", "\t")


def test_tesseract_words_become_numbers_with_evenly_split_digits():
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t640\t480\t-1\t",
        "5\t1\t1\t1\t1\t1\t100\t50\t60\t30\t91.5\t307",
        "5\t1\t2\t1\t1\t1\t300\t50\t20\t30\t40\t",       # empty word: no number
        "5\t1\t3\t1\t1\t1\t10\t400\t40\t20\t88\t05",     # leading zero stays
    ]
    tsv = TSV_HEADER + "\n" + "\n".join(rows)
    result = parse_tsv(tsv)
    assert [n["text"] for n in result["numbers"]] == ["307", "05"]
    assert result["numbers"][0]["box"] == [100, 50, 60, 30]
    assert result["numbers"][0]["confidence"] == pytest.approx(0.915)
    assert [d["label"] for d in result["digits"]] == [3, 0, 7, 0, 5]
    assert [d["box"] for d in result["digits"][:3]] == [[100, 50, 20, 30], [120, 50, 20, 30],
                                                         [140, 50, 20, 30]]


def test_usual_approach_fills_the_whole_patch_without_a_margin():
    page = np.full((240, 320), 230, np.uint8)
    page[60:160, 100:130] = 20   # a tall dark bar: a '1'
    page[5:7, 5:9] = 20          # a speck the size rule drops
    thresh = threshold_usual(page)
    boxes = boxes_usual(thresh)
    assert len(boxes) == 1
    _, _, w, h = boxes[0]
    assert abs(h - 100) <= 4 and abs(w - 30) <= 4  # the blur widens the bar a pixel or two
    patch = patch_usual(thresh, boxes[0])
    assert patch.shape == (28, 28) and patch.dtype == np.float32
    rows = np.flatnonzero(patch.max(axis=1) > 0.5)
    # No 20x20 box: the ink runs from the top row to the bottom row (MNIST keeps 4 px free).
    assert rows[0] == 0 and rows[-1] == 27


def run_script(args: list[str], timeout_s: float = 180) -> subprocess.CompletedProcess:
    # The scripts import this checkout's `reader`, not whichever one is installed.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout_s, check=False, env=env)


def write_scene(folder: Path, name: str, truth: dict) -> None:
    """A blank still with a hand-written truth file, as make_scenes.py lays them out."""
    cv2.imwrite(str(folder / f"{name}.png"), np.full((120, 200, 3), 255, np.uint8))
    (folder / f"{name}.json").write_text(json.dumps({"kind": "image", **truth}))


def number(text: str, x: int, y: int = 40, digit_w: int = 20) -> dict:
    """A number (truth or prediction) of equal-width digits, and its digits."""
    return {"text": text, "confidence": 0.9, "box": [x, y, digit_w * len(text), 30]}


def digits_of(*numbers: dict) -> list[dict]:
    return [{"label": int(c), "confidence": 0.9,
             "box": [n["box"][0] + 20 * i, n["box"][1], 20, 30]}
            for n in numbers for i, c in enumerate(n["text"])]


def test_evaluation_gives_exact_scores_on_known_truth_and_breaks_them_down_by_tag(tmp_path):
    write_scene(tmp_path, "img_0000", {"numbers": [number("307", 10), number("42", 120)],
                                       "tags": ["desk", "faint-pen"]})
    write_scene(tmp_path, "img_0001", {"numbers": [number("5", 10)], "tags": "desk"})
    write_scene(tmp_path, "img_0002", {"numbers": [number("61", 10)]})
    images, videos = find_scenes(tmp_path)
    answers = {  # per image, in name order: what each reader "reads"
        "perfect": [[number("307", 10), number("42", 120)], [number("5", 10)], [number("61", 10)]],
        # "307" in two pieces (exact, not whole), "5" missed, a spurious "1", "61" right
        "flawed": [[number("30", 10), number("7", 50), number("42", 120)], [number("1", 150)],
                   [number("61", 10)]],
    }

    def scripted(name: str) -> Peer:
        reads = iter(answers[name])

        def read(frame, kind):
            if frame.shape[:2] == (480, 640):  # the harness's warm-up page
                return {"digits": [], "numbers": []}
            numbers = next(reads)
            return {"digits": digits_of(*numbers), "numbers": numbers}

        return Peer("reader" if name == "perfect" else "baseline", read)

    result = evaluate([Method(scripted("perfect")), Method(scripted("flawed"))], images, videos,
                      [], {"scenes": str(tmp_path), "photos": ""})
    perfect, flawed = result["results"]["reader"]["images"], result["results"]["baseline"]["images"]
    assert (perfect["numbers_total"], perfect["numbers_exact"], perfect["numbers_whole"]) == (4, 4, 4)
    assert perfect["digit_accuracy_pct"] == 100.0 and perfect["spurious_digits"] == 0
    assert (flawed["numbers_exact"], flawed["numbers_whole"]) == (3, 2)
    assert flawed["char_errors"] == 1 and flawed["spurious_digits"] == 1
    assert flawed["digit_accuracy_pct"] == pytest.approx(100 * (1 - 1 / 8))
    by_tag = result["by_tag"]["baseline"]["images"]
    assert set(by_tag) == {"desk", "faint-pen"}  # the tags the truth files carry, no others
    assert (by_tag["desk"]["frames"], by_tag["desk"]["numbers_exact"]) == (2, 2)
    assert (by_tag["faint-pen"]["numbers_whole"], by_tag["faint-pen"]["numbers_total"]) == (1, 2)


class WrongLabels:
    """A classifier that answers every digit one class off: a deliberately broken reader."""

    def __init__(self, classifier):
        self.classifier = classifier
        self.num_classes = classifier.num_classes

    def predict(self, patches):
        return np.roll(self.classifier.predict(patches), 1, axis=1)


@needs_model
def test_evaluation_scores_the_reader_far_above_a_broken_reader(tmp_path):
    generate_scenes(tmp_path, images=3, videos=0, seed=7, data_dir=MNIST_SAMPLE)
    images, _ = find_scenes(tmp_path)
    reader = build_peer("reader", PeerPaths(model=MODEL))
    good = evaluate([Method(reader)], images, [], [], {"scenes": "", "photos": ""})
    good = good["results"]["reader"]["images"]
    wrong = Reader(MODEL)
    wrong.classifier = WrongLabels(wrong.classifier)
    broken = Peer("reader", lambda frame, kind: wrong.read(frame).to_json("", 0))
    bad = evaluate([Method(broken)], images, [], [], {"scenes": "", "photos": ""})
    bad = bad["results"]["reader"]["images"]
    assert good["numbers_total"] >= 5
    assert good["numbers_exact_pct"] >= bad["numbers_exact_pct"] + 50
    assert good["digit_accuracy_pct"] >= bad["digit_accuracy_pct"] + 50


@needs_model
@needs_photos
def test_evaluate_script_reports_every_set_from_a_seed(tmp_path):
    json_path, md_path = tmp_path / "eval.json", tmp_path / "eval.md"
    args = ["scripts/evaluate.py", "--generate", "2,1", "--video-frames", "3", "--seed", "7",
            "--limit-photos", "2", "--limit-mnist", "500", "--no-baseline", "--no-rapidocr",
            "--no-tesseract", "--model", str(MODEL), "--json", str(json_path),
            "--md", str(md_path), "--keep-scenes", str(tmp_path / "scenes")]
    run = run_script(args)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(json_path.read_text())
    reader_scores = report["results"]["reader"]
    assert {key: reader_scores[key]["frames"] for key in reader_scores} == {
        "images": 2, "videos": 3, "photos": 2}
    # The generated scenes are kept where asked, as make_scenes.py names them.
    kept = sorted(p.name for p in (tmp_path / "scenes").glob("*.json"))
    assert kept == ["img_0000.json", "img_0001.json", "vid_000.json"]
    assert report["mnist"]["test_images"] == 500
    assert set(report["skipped"]) == {"baseline", "rapidocr", "tesseract"}
    # Truth is read as text: p01's leading zero survives into the report.
    assert report["photo_reads"]["reader"][0]["truth"] == "05221859"
    markdown = md_path.read_text()
    assert "numbers read whole %" in markdown and markdown in run.stdout


@needs_model
def test_bench_reports_the_stages_reader_read_times_and_the_reader_side_by_side(tmp_path):
    json_path = tmp_path / "bench.json"
    run = run_script(["scripts/bench.py", "--repeats", "2", "--compare-repeats", "1",
                      "--readers", "reader", "--model", str(MODEL), "--json", str(json_path),
                      "--data", str(MNIST_SAMPLE)])
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(json_path.read_text())
    configs = {(row["width"], row["height"], row["digits"]) for row in report["stages"]}
    assert configs == {(w, h, n) for (w, h) in ((640, 480), (1280, 720)) for n in (0, 10, 50)}
    for row in report["stages"]:
        # The stages are the ones Reader.read records, between decoding and the overlay.
        stages = list(row["median_ms"])
        assert stages[0] == "decode" and stages[-3:] == ["Reader.read", "overlay", "total"]
        assert {"threshold", "contours", "patches", "classify"} <= set(stages)
    clean = {(row["width"], row["height"], row["digits"]): row["found_digits"]
             for row in report["stages"]}
    assert clean[(640, 480, 0)] == 0 and clean[(640, 480, 10)] == 10
    assert report["startup"]["peak_rss_mb"] > 0
    reader = report["compare"]["reader"]
    assert set(reader["frames"]) == {"640x480x10", "640x480x50", "1280x720x10", "1280x720x50"}
    assert reader["frames"]["640x480x10"]["digits_found"] == 10
    assert reader["startup_s"] > 0 and reader["peak_rss_mb"] > 0
    markdown = run.stdout
    assert "digit-reader" in markdown and "peak memory, MB" in markdown


def test_rapidocr_lines_become_numbers_split_at_spaces_with_even_digit_boxes():
    lines = [[[[100, 50], [200, 50], [200, 80], [100, 80]], "12 a3", 0.9],
             [[[0, 0], [10, 0], [10, 10], [0, 10]], "ab", 0.5]]
    result = lines_to_result(lines)
    assert [n["text"] for n in result["numbers"]] == ["12", "3"]
    assert result["numbers"][0]["box"] == [100, 50, 50, 30]  # 2 of 4 kept characters
    assert [d["label"] for d in result["digits"]] == [1, 2, 3]
    assert [d["box"][0] for d in result["digits"]] == [100, 125, 175]
    assert lines_to_result(None) == {"digits": [], "numbers": []}


def test_evaluation_generates_the_files_make_scenes_writes_for_a_seed(tmp_path):
    run = run_script(["scripts/make_scenes.py", "--out", str(tmp_path / "script"), "--images",
                      "1", "--videos", "1", "--seed", "5", "--frames-min", "2", "--frames-max",
                      "2", "--data", str(MNIST_SAMPLE)])
    assert run.returncode == 0, run.stderr[-2000:]
    generate_scenes(tmp_path / "package", images=1, videos=1, seed=5, video_frames=2,
                    data_dir=MNIST_SAMPLE)
    written = sorted(p.name for p in (tmp_path / "script").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "package").iterdir())
    for name in written:
        assert (tmp_path / "script" / name).read_bytes() == (tmp_path / "package" / name
                                                             ).read_bytes(), name


@needs_model
def test_ensemble_check_scores_each_model_and_their_average(tmp_path):
    from reader.eval.harness import mnist_test_accuracy

    alone = mnist_test_accuracy(MODEL, None, MNIST_SAMPLE)
    out = tmp_path / "ensemble.json"
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "ensemble_check.py"),
                           str(MODEL), str(MODEL), "--data", str(MNIST_SAMPLE), "--json",
                           str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["test_digits"] == alone["test_images"]
    assert [row["accuracy_pct"] for row in report["models"]] == [alone["accuracy_pct"]] * 2
    # Two copies of one model agree on every digit: averaging them changes nothing.
    assert report["ensemble"] == {"accuracy_pct": alone["accuracy_pct"],
                                  "errors": report["models"][0]["errors"]}
    assert report["missed_by_all"] == report["models"][0]["errors"]
    missing = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "ensemble_check.py"),
                              str(tmp_path / "nowhere.tflite")], capture_output=True, text=True,
                             timeout=300, check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
