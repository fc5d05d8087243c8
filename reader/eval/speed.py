"""Speed measurements: the reader stage by stage (as `Reader.read` times itself), its start-up,
and every comparison reader on the same frames, each in a fresh process of its own.

The comparison runs each reader in a child process (`python -m reader.eval.speed --worker ...`)
so that its start-up (imports, model load, first frame) and its peak memory are its own:
peak memory is the child's maximum resident set size from `wait4` (for Tesseract, the larger of
the Python worker and the biggest `tesseract` process it ran), and includes the benchmark frames
(~7 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from reader.eval.peers import NAMES, PeerPaths, build_peer, unavailable

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding `reader/`
JPEG_QUALITY = 90


def summary_ms(samples_ms: list[float]) -> tuple[float, float]:
    """(median, p90) of a list of times in ms."""
    values = np.asarray(samples_ms, np.float64)
    return float(np.median(values)), float(np.percentile(values, 90))


def time_call(call: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, p90) ms of `call` over `repeats` runs after one warm-up run."""
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    return summary_ms(samples)


def time_stages(frame: np.ndarray, model_path: Path, repeats: int) -> dict:
    """Per-stage times of the product over `repeats` runs on one frame, JPEG-encoded as a camera
    or file delivers it: decoding (`cv2.imdecode`), the stages `Reader.read` times itself
    (`FrameResult.stage_ms`, with tracking, as on video), and drawing the overlay."""
    from reader.overlay import draw_overlay
    from reader.pipeline import Reader

    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    reader = Reader(model_path, track=True)
    samples: dict[str, list[float]] = {}
    found_digits = 0
    for run in range(repeats + 1):  # the first run warms caches and allocates; not counted
        t0 = time.perf_counter()
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        t1 = time.perf_counter()
        result = reader.read(decoded)
        t2 = time.perf_counter()
        draw_overlay(decoded, result)
        t3 = time.perf_counter()
        if run == 0:
            continue
        times = {"decode": (t1 - t0) * 1000.0, **result.stage_ms,
                 "Reader.read": result.time_ms, "overlay": (t3 - t2) * 1000.0,
                 "total": (t3 - t0) * 1000.0}
        for stage, ms in times.items():
            samples.setdefault(stage, []).append(ms)
        found_digits = len(result.patches) if result.patches is not None else 0
    medians, p90s = {}, {}
    for stage, values in samples.items():
        medians[stage], p90s[stage] = (round(v, 3) for v in summary_ms(values))
    return {"found_digits": found_digits, "median_ms": medians, "p90_ms": p90s,
            "fps": round(1000.0 / float(np.mean(samples["total"])), 1)}


def time_startup(image_path: Path, model_path: Path) -> dict:
    """Wall time of a fresh `python -m reader.cli` from start to exit after writing its first
    annotated frame, and its peak memory."""
    annotated_path = image_path.with_name("annotated.png")
    command = [sys.executable, "-m", "reader.cli", str(image_path), "--no-display", "--json",
               "--output", str(annotated_path), "--model", str(model_path)]
    start = time.perf_counter()
    output, status, usage = _run_child(command)
    elapsed_s = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"start-up run failed ({' '.join(command)}):\n{output[-1000:]}")
    return {"method": "python -m reader.cli IMG --no-display --json --output OUT.png",
            "first_frame_s": round(elapsed_s, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1)}


def _child_env() -> dict:
    """The environment for child processes: they import this same `reader` package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _run_child(command: list[str]) -> tuple[str, int, object]:
    """(stdout + stderr, exit code, resource usage) of a child process run to its end."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, cwd=PACKAGE_ROOT, stdout=out, stderr=err,
                                 env=_child_env())
        # wait4 gives this child's own peak memory (RUSAGE_CHILDREN would mix all children).
        _, status, usage = os.wait4(child.pid, 0)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace") + err.read().decode(errors="replace")
    return text, os.waitstatus_to_exitcode(status), usage


def frame_key(width: int, height: int, digits: int) -> str:
    return f"{width}x{height}x{digits}"


def compare_readers(frames: dict[tuple[int, int, int], np.ndarray], names: list[str],
                    paths: PeerPaths, repeats: Callable[[str], int],
                    progress: Callable[[str], None] = lambda message: None) -> dict:
    """Time every reader in `names` on the same `frames`, each in a fresh process.

    Returns {name: {"skipped": reason} or {"startup_s", "peak_rss_mb", "repeats",
    "frames": {key: {"median_ms", "p90_ms", "digits_found"}}}}. The start-up is the wall time
    from launching the process to the end of its first read (first frame, imports and model
    loading included).
    """
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="digit-bench-") as tmp:
        frames_path = Path(tmp) / "frames.npz"
        np.savez(frames_path, **{frame_key(*key): frame for key, frame in frames.items()})
        out_path = Path(tmp) / "result.json"
        for name in names:
            reason = unavailable(name, paths)
            if reason is not None:
                progress(f"skipping {NAMES[name]}: {reason}")
                results[name] = {"skipped": reason}
                continue
            progress(f"timing {NAMES[name]} in a fresh process ({repeats(name)} repeats a frame)")
            command = [sys.executable, "-m", "reader.eval.speed", "--worker", name,
                       "--frames", str(frames_path), "--out", str(out_path),
                       "--repeats", str(repeats(name)), "--model", str(paths.model),
                       "--keras-model", str(paths.keras_model),
                       "--seed-model", str(paths.seed_model),
                       "--launched-at", repr(time.time())]
            output, status, usage = _run_child(command)
            if status != 0:
                raise RuntimeError(f"{NAMES[name]}: timing run failed:\n{output[-1500:]}")
            result = json.loads(out_path.read_text())
            result["peak_rss_mb"] = round(usage.ru_maxrss / 1024.0, 1)
            results[name] = result
    return results


def _worker(argv: list[str]) -> int:
    """Child process: load one reader, read the first frame (start-up), then time every frame."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True, choices=list(NAMES))
    parser.add_argument("--frames", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--keras-model", type=Path, required=True)
    parser.add_argument("--seed-model", type=Path, required=True)
    parser.add_argument("--launched-at", type=float, required=True)
    args = parser.parse_args(argv)
    peer = build_peer(args.worker, PeerPaths(args.model, args.keras_model, args.seed_model))
    with np.load(args.frames) as stored:
        frames = {key: stored[key] for key in stored.files}
    first = next(iter(frames))
    peer.read(frames[first], "image")
    startup_s = time.time() - args.launched_at
    timings = {}
    for key, frame in frames.items():
        median_ms, p90_ms = time_call(lambda f=frame: peer.read(f, "image"), args.repeats)
        timings[key] = {"median_ms": round(median_ms, 3), "p90_ms": round(p90_ms, 3),
                        "digits_found": len(peer.read(frame, "image")["digits"])}
    args.out.write_text(json.dumps({"startup_s": round(startup_s, 3), "repeats": args.repeats,
                                    "first_frame": first, "frames": timings}))
    return 0


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
