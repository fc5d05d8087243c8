"""The comparison readers behave as documented, and evaluate.py / bench.py run end to end."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST_SAMPLE

from reader.eval.baseline import boxes_usual, patch_usual, threshold_usual
from reader.eval.tesseract import parse_tsv, tesseract_path

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


def run_script(args: list[str], timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout_s, check=False)


@needs_model
@needs_photos
def test_evaluate_runs_end_to_end_on_a_tiny_set(tmp_path):
    json_path, md_path = tmp_path / "eval.json", tmp_path / "eval.md"
    args = ["scripts/evaluate.py", "--generate", "2,1", "--video-frames", "5", "--seed", "7",
            "--limit-photos", "2", "--limit-mnist", "1000", "--no-baseline", "--model", str(MODEL),
            "--json", str(json_path), "--md", str(md_path)]
    if tesseract_path() is None:
        args.append("--no-tesseract")
    run = run_script(args)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(json_path.read_text())
    assert {"command", "machine", "sets", "mnist", "results", "skipped"} <= set(report)
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    reader_scores = report["results"]["reader"]
    assert {key: reader_scores[key]["frames"] for key in reader_scores} == {
        "images": 2, "videos": 5, "photos": 2}
    for score in reader_scores.values():
        assert 0 <= score["numbers_exact_pct"] <= 100
        assert score["digit_accuracy_pct"] <= 100
        assert score["fps"] > 0
    assert reader_scores["images"]["spurious_per_frame"] >= 0
    assert reader_scores["photos"]["spurious_per_frame"] is None
    assert report["mnist"]["test_images"] == 1000 and report["mnist"]["accuracy_pct"] > 90
    assert report["skipped"]["baseline"].startswith("switched off")
    # Truth is read as text: p01's leading zero survives into the report.
    assert report["photo_reads"]["reader"][0]["truth"] == "05221859"
    if tesseract_path() is not None:
        assert report["results"]["tesseract"]["photos"]["frames"] == 2
    markdown = md_path.read_text()
    assert "digit accuracy %" in markdown and "real photos" in markdown
    assert markdown in run.stdout


@needs_model
def test_bench_runs_end_to_end_with_few_repeats(tmp_path):
    json_path = tmp_path / "bench.json"
    run = run_script(["scripts/bench.py", "--repeats", "3", "--no-baseline", "--model", str(MODEL),
                      "--json", str(json_path), "--data", str(MNIST_SAMPLE)])
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(json_path.read_text())
    assert {"command", "machine", "stages", "startup", "batch_inference"} <= set(report)
    configs = {(row["width"], row["height"], row["digits"]) for row in report["stages"]}
    assert configs == {(w, h, n) for (w, h) in ((640, 480), (1280, 720)) for n in (0, 10, 50)}
    for row in report["stages"]:
        assert row["fps"] > 0
        assert {"decode", "threshold", "contours", "patches", "inference", "grouping_tracking",
                "overlay"} <= set(row["median_ms"])
    assert report["startup"]["first_frame_s"] > 0 and report["startup"]["peak_rss_mb"] > 0
    assert report["batch_inference"]["patches"] == 10
    assert report["baseline"]["skipped"]
