"""The scene generator's truth is right: boxes hug their own digit's ink and nothing else."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import MNIST_SAMPLE

from reader.scenes.camera import translation
from reader.scenes.glyphs import INK_ALPHA, Stroke, mnist_test_glyphs, render_digit
from reader.scenes.layout import BlockSpec, PlacedDigit, PlacedNumber, lay_out_block
from reader.scenes.still import SceneOptions, make_still
from reader.scenes.truth import InkTracker
from reader.scenes.video import VideoOptions, make_demo_clip, make_video
from reader.training.mnist import load_mnist

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_scenes.py"
CLEAN = SceneOptions(ruled=False, noise=False, blur=False, jpeg=False, lighting=False)


@pytest.fixture(scope="module")
def glyphs():
    return mnist_test_glyphs(MNIST_SAMPLE)


def still(glyphs, seed: int, options: SceneOptions = CLEAN, width: int = 640, height: int = 480):
    return make_still(np.random.default_rng(seed), glyphs, width, height, options)


def digit_boxes(truth: dict) -> list[list[int]]:
    return [d["box"] for n in truth["numbers"] for d in n["digits"]]


def ink_relative_to_paper(image: np.ndarray) -> np.ndarray:
    """Grey level over the local paper brightness (a max filter wider than any stroke)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    paper = cv2.dilate(gray, cv2.getStructuringElement(cv2.MORPH_RECT, (41, 41)))
    return gray / np.maximum(paper, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_dark_pixel_is_inside_a_box_and_boxes_are_tight(glyphs, seed):
    scene = still(glyphs, seed)
    relative = ink_relative_to_paper(scene.image)
    dark = relative < 0.6
    covered = np.zeros_like(dark)
    boxes = digit_boxes(scene.truth)
    assert boxes, "a scene has at least one digit"
    for x, y, w, h in boxes:
        covered[y:y + h, x:x + w] = True
        ys, xs = np.nonzero(relative[y:y + h, x:x + w] < 0.85)
        assert xs.size, f"box {x, y, w, h} holds no ink"
        # Tight: the visible ink reaches (within a pixel) every side of its box.
        assert xs.min() <= 1 and ys.min() <= 1
        assert xs.max() >= w - 2 and ys.max() >= h - 2
    assert dark.any()
    assert not (dark & ~covered).any(), "dark ink outside every digit box"


def test_boxes_hold_up_under_noise_blur_and_light(glyphs):
    options = SceneOptions(ruled=False, jpeg=False)
    for seed in range(3):
        scene = still(glyphs, seed, options)
        dark = ink_relative_to_paper(scene.image) < 0.5
        covered = np.zeros_like(dark)
        for x, y, w, h in digit_boxes(scene.truth):
            covered[max(0, y - 2):y + h + 2, max(0, x - 2):x + w + 2] = True
        assert (dark & covered).sum() >= 0.99 * dark.sum()


@pytest.mark.parametrize("seed", range(4))
def test_digit_boxes_never_touch_and_stay_in_frame(glyphs, seed):
    scene = still(glyphs, seed, SceneOptions(jpeg=False))
    boxes = np.array(digit_boxes(scene.truth))
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2] - 1, y0 + boxes[:, 3] - 1
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 < 640).all() and (y1 < 480).all()
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            apart = x1[i] < x0[j] or x1[j] < x0[i] or y1[i] < y0[j] or y1[j] < y0[i]
            assert apart, f"digit boxes {boxes[i]} and {boxes[j]} touch"


@pytest.mark.parametrize("seed", range(4))
def test_number_text_is_its_digits_left_to_right_and_box_is_their_union(glyphs, seed):
    scene = still(glyphs, seed, SceneOptions())
    truth = scene.truth
    assert truth["kind"] == "image" and (truth["width"], truth["height"]) == (640, 480)
    for number in truth["numbers"]:
        digits = number["digits"]
        assert number["text"] == "".join(str(d["label"]) for d in digits)
        assert 1 <= len(digits) <= 6
        xs = [d["box"][0] for d in digits]
        assert xs == sorted(xs)
        boxes = np.array([d["box"] for d in digits])
        union = [boxes[:, 0].min(), boxes[:, 1].min(),
                 (boxes[:, 0] + boxes[:, 2]).max() - boxes[:, 0].min(),
                 (boxes[:, 1] + boxes[:, 3]).max() - boxes[:, 1].min()]
        assert number["box"] == [int(v) for v in union]


def test_file_bytes_decode_to_the_image_and_extension_is_honest(glyphs):
    seen = set()
    for seed in range(8):
        scene = still(glyphs, seed, SceneOptions(), width=320, height=240)
        decoded = cv2.imdecode(np.frombuffer(scene.encoded, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(decoded, scene.image)
        magic = scene.encoded[:4]
        assert (magic == b"\x89PNG") == (scene.extension == ".png")
        assert (magic[:2] == b"\xff\xd8") == (scene.extension == ".jpg")
        seen.add(scene.extension)
    assert seen == {".png", ".jpg"}, "both the PNG and the JPEG-artefact paths get used"


def test_same_seed_same_scene_and_another_seed_differs(glyphs):
    a, b, c = still(glyphs, 5, SceneOptions()), still(glyphs, 5, SceneOptions()), \
        still(glyphs, 6, SceneOptions())
    assert a.encoded == b.encoded and a.truth == b.truth
    assert a.encoded != c.encoded


def test_digit_heights_stay_in_the_asked_range(glyphs):
    heights = [h for seed in range(6) for _, _, _, h in digit_boxes(still(glyphs, seed).truth)]
    # 24-110 px ink height; a few degrees of page rotation can add a pixel or two.
    assert min(heights) >= 23 and max(heights) <= 114


@pytest.mark.parametrize("stroke", [Stroke(None, 0.4), Stroke(0.03), Stroke(0.15)])
@pytest.mark.parametrize("height_px", [24, 60, 110])
def test_rendered_glyph_ink_is_as_tall_as_asked(glyphs, stroke, height_px):
    alpha = render_digit(glyphs.images[0], height_px, stroke)
    rows = np.flatnonzero((alpha > INK_ALPHA).any(axis=1))
    assert abs((rows[-1] - rows[0] + 1) - height_px) <= 1


def test_marker_is_bolder_than_pen(glyphs):
    image = glyphs.images[3]
    pen = (render_digit(image, 80, Stroke(0.03)) > INK_ALPHA).sum()
    marker = (render_digit(image, 80, Stroke(0.15)) > INK_ALPHA).sum()
    assert marker > 2.5 * pen


def test_layout_gaps_within_and_between_numbers(glyphs):
    spec = BlockSpec(max_lines=4, height_range_px=(24, 60))
    for seed in range(5):
        numbers = lay_out_block(np.random.default_rng(seed), glyphs, (0, 0, 1200, 900),
                                Stroke(None), spec)
        assert numbers
        for number in numbers:
            for left, right in zip(number.digits, number.digits[1:]):
                gap = right.x - (left.x + left.alpha.shape[1])
                taller = max(left.alpha.shape[0], right.alpha.shape[0])
                shorter = min(left.alpha.shape[0], right.alpha.shape[0])
                assert 0.1 * shorter / 1.1 - 1 <= gap <= 0.45 * taller / 0.9 + 1
        for left, right in itertools.pairwise(numbers):
            if left.line == right.line:
                gap = right.digits[0].x - (left.digits[-1].x + left.digits[-1].alpha.shape[1])
                tallest = max(d.alpha.shape[0] for d in left.digits + right.digits)
                assert gap >= tallest / 1.1 - 1


def test_tracker_moves_boxes_with_the_page_and_drops_cut_numbers():
    alpha = np.zeros((20, 10), np.float32)
    alpha[2:18, 3:7] = 1.0   # ink rows 2..17, cols 3..6
    numbers = [PlacedNumber((PlacedDigit(4, alpha, 100, 50), PlacedDigit(2, alpha, 115, 50))),
               PlacedNumber((PlacedDigit(7, alpha, 300, 50),))]
    tracker = InkTracker(numbers)
    entries = tracker.frame_numbers(translation(10, 5), (400, 200))
    assert [e["text"] for e in entries] == ["42", "7"]
    assert entries[0]["digits"][0]["box"] == [113, 57, 4, 16]
    assert entries[0]["box"] == [113, 57, 19, 16]
    # Move left so the "4" is cut by the frame edge: the whole "42" goes, "7" stays, and what
    # is visible of "42" is listed as cut (its "2" must not count as a spurious reading).
    truth = tracker.frame_truth(translation(-104, 0), (400, 200))
    assert [e["text"] for e in truth["numbers"]] == ["7"]
    assert truth["cut_numbers"] == [{"box": [0, 52, 18, 16]}]  # ink columns -1..17


def test_short_video_is_readable_with_one_truth_entry_per_frame(glyphs, tmp_path):
    path = tmp_path / "clip.mp4"
    truth = make_video(path, np.random.default_rng(1), glyphs, n_frames=10, width=320,
                       height=240, fps=30, options=VideoOptions())
    assert not list(tmp_path.glob("*.tmp*")), "temporary file left behind"
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 10 and frames[0].shape == (240, 320, 3)
    assert truth["kind"] == "video" and truth["fps"] == 30 and len(truth["frames"]) == 10
    assert any(f["numbers"] for f in truth["frames"]), "the camera sees some whole number"
    for frame in truth["frames"]:
        for number in frame["numbers"]:
            for x, y, w, h in [number["box"]] + [d["box"] for d in number["digits"]]:
                assert x >= 0 and y >= 0 and x + w <= 320 and y + h <= 240


def test_demo_clip_is_a_readable_640x480_video(glyphs, tmp_path):
    path = tmp_path / "demo.mp4"
    truth = make_demo_clip(path, seed=0, seconds=0.4, fps=25, glyphs=glyphs)
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 640
    assert capture.get(cv2.CAP_PROP_FRAME_HEIGHT) == 480
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(25)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == len(truth["frames"]) == 10


def test_script_writes_scenes_and_truth_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_scenes", SCRIPT)
    make_scenes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_scenes)
    code = make_scenes.main(["--out", str(tmp_path), "--images", "2", "--videos", "1",
                             "--width", "320", "--height", "240",
                             "--frames-min", "6", "--frames-max", "6",
                             "--data", str(MNIST_SAMPLE)])
    assert code == 0
    images = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".png", ".jpg"))
    assert [Path(n).stem for n in images] == ["img_0000", "img_0001"]
    for name in images:
        truth = json.loads((tmp_path / name).with_suffix(".json").read_text())
        assert truth["kind"] == "image"
        image = cv2.imread(str(tmp_path / name))
        assert image.shape == (240, 320, 3)
    video = json.loads((tmp_path / "vid_000.json").read_text())
    assert len(video["frames"]) == 6 and (tmp_path / "vid_000.mp4").stat().st_size > 0
    assert not list(tmp_path.glob("*.tmp*"))


# ---------------------------------------------------------------- harder scene families


@pytest.mark.parametrize("family", ["desk", "printed", "faint", "blur", "touching"])
def test_each_family_is_tagged_deterministic_and_its_boxes_hold_their_digits_ink(glyphs, family):
    options = SceneOptions(ruled=False, noise=False, blur=False, jpeg=False, lighting=False,
                           family=family)
    scene = still(glyphs, 11, options)
    assert scene.truth["tags"] == [family]
    assert scene.encoded == still(glyphs, 11, options).encoded
    relative = ink_relative_to_paper(scene.image)
    for x, y, w, h in digit_boxes(scene.truth):
        assert x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
        ys, xs = np.nonzero(relative[y:y + h, x:x + w] < 0.9)
        assert xs.size, f"{family}: box {x, y, w, h} holds no ink"
        if family != "blur":  # blur smears ink past the (mid-exposure) box
            assert xs.min() <= 1 and ys.min() <= 1
            assert xs.max() >= w - 2 and ys.max() >= h - 2


def test_unknown_family_is_refused(glyphs):
    with pytest.raises(ValueError, match="family"):
        still(glyphs, 0, SceneOptions(family="cave"))


def test_plain_family_draws_what_scenes_drew_before_families(glyphs):
    # The plain family consumes no extra randomness: old seeds keep their scenes.
    scene = still(glyphs, 3, SceneOptions())
    assert scene.truth["tags"] == ["plain"]
    assert scene.encoded == still(glyphs, 3, SceneOptions(family="plain")).encoded


def test_desk_lies_outside_the_sheet_and_the_sheet_keeps_its_paper():
    from reader.scenes.clutter import lay_sheet_on_desk, sheet_quad

    rng = np.random.default_rng(0)
    page = np.full((300, 400, 3), 240.0, np.float32)
    quad = sheet_quad(rng, (400, 300), (0, 0, 400, 300))
    lay_sheet_on_desk(rng, page, quad)
    inside = np.zeros((300, 400), np.uint8)
    cv2.fillConvexPoly(inside, np.round(quad).astype(np.int32), 1)
    core = cv2.erode(inside, np.ones((5, 5), np.uint8)).astype(bool)
    outside = ~cv2.dilate(inside, np.ones((5, 5), np.uint8)).astype(bool)
    assert outside.mean() > 0.03, "some desk is in view"
    assert np.abs(page[core] - 240.0).max() < 1e-3
    assert np.abs(page[outside] - 240.0).mean() > 20


def test_printed_text_keeps_clear_of_every_digit(glyphs):
    from reader.scenes.clutter import TEXT_CLEARANCE, draw_printed_text

    rng = np.random.default_rng(2)
    numbers = lay_out_block(rng, glyphs, (20, 20, 600, 440), Stroke(None),
                            BlockSpec(max_lines=3, height_range_px=(30, 60)))
    page = np.full((480, 640, 3), 240.0, np.float32)
    assert draw_printed_text(rng, page, numbers, (0, 0, 640, 480), 8) >= 4
    text = (page < 200).any(axis=2)
    assert text.any()
    for number in numbers:
        for digit in number.digits:
            x0, y0, x1, y1 = digit.box_xyxy
            pad = int(TEXT_CLEARANCE * (y1 - y0)) - 1
            assert not text[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad].any()


def test_touching_digits_share_one_blob_of_ink(glyphs):
    spec = BlockSpec(max_lines=2, height_range_px=(30, 60), touching=1.0)
    pairs = touching = 0
    for seed in range(3):
        numbers = lay_out_block(np.random.default_rng(seed), glyphs, (0, 0, 1200, 600),
                                Stroke(None), spec)
        for number in numbers:
            for left, right in zip(number.digits, number.digits[1:]):
                blobs = []
                both = np.zeros((700, 1300), np.uint8)
                for d in (left, right):
                    h, w = d.alpha.shape
                    alone = np.zeros_like(both)
                    alone[d.y + 50:d.y + 50 + h, d.x + 50:d.x + 50 + w] = d.alpha > INK_ALPHA
                    blobs.append(cv2.connectedComponents(alone, connectivity=8)[0] - 1)
                    both |= alone
                pairs += 1
                # Fewer blobs together than apart: some ink of the two digits is connected.
                touching += cv2.connectedComponents(both, connectivity=8)[0] - 1 < sum(blobs)
    assert pairs >= 5 and touching == pairs


def test_motion_blur_keeps_ink_centred():
    from reader.scenes.clutter import motion_blur

    frame = np.zeros((61, 61, 3), np.float32)
    frame[30, 30] = 255.0
    for seed in range(4):
        blurred = motion_blur(np.random.default_rng(seed), frame)[..., 0]
        ys, xs = np.mgrid[0:61, 0:61]
        total = blurred.sum()
        assert abs((blurred * xs).sum() / total - 30) < 0.6
        assert abs((blurred * ys).sum() / total - 30) < 0.6
        assert (blurred > 1e-3).sum() > 5, "the dot is smeared"


def test_video_family_is_tagged(glyphs, tmp_path):
    truth = make_video(tmp_path / "clip.mp4", np.random.default_rng(3), glyphs, n_frames=4,
                       width=320, height=240, fps=30, options=VideoOptions(family="desk"))
    assert truth["tags"] == ["desk"] and len(truth["frames"]) == 4


def test_script_takes_families_in_turn_and_refuses_unknown_ones(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_scenes", SCRIPT)
    make_scenes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_scenes)
    code = make_scenes.main(["--out", str(tmp_path), "--images", "3", "--videos", "0",
                             "--width", "320", "--height", "240", "--families", "desk,touching",
                             "--data", str(MNIST_SAMPLE)])
    assert code == 0
    tags = [json.loads(p.read_text())["tags"] for p in sorted(tmp_path.glob("img_*.json"))]
    assert tags == [["desk"], ["touching"], ["desk"]]
    with pytest.raises(SystemExit) as exit_info:
        make_scenes.main(["--out", str(tmp_path), "--families", "plain,cave"])
    assert exit_info.value.code == 2
    assert "cave" in capsys.readouterr().err


def test_train_glyphs_are_another_split(glyphs):
    from reader.scenes.glyphs import mnist_glyphs

    train = mnist_glyphs("train", MNIST_SAMPLE)
    sample = load_mnist(MNIST_SAMPLE)
    assert np.array_equal(train.images, sample.x_train)
    assert np.array_equal(glyphs.images, sample.x_test)
    with pytest.raises(ValueError):
        mnist_glyphs("valid")
