"""The reading loop: frames from a source through the Reader to the window, files and stdout."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from reader.detections import FrameResult
from reader.errors import EXIT_OK
from reader.overlay import debug_view, draw_help, draw_overlay
from reader.pipeline import Reader
from reader.sinks import (
    ImageFolderSink,
    ImageSink,
    JsonLinesSink,
    VideoSink,
    check_writable,
    save_snapshot,
)
from reader.sources import open_source
from reader.window import HELP_LINES, Window, display_available

log = logging.getLogger("reader.app")
SENSITIVITY_STEP = 0.1
FPS_SMOOTHING = 0.9  # weight of the past in the shown frames-per-second


class _Controls:
    """What the keys change while the loop runs."""

    def __init__(self) -> None:
        self.paused = self.debug = self.help = self.quit = False


def run(args: argparse.Namespace) -> int:
    """Read every frame of `args.source`; show, write and print what the user asked for."""
    source_is_folder = Path(str(args.source)).is_dir()
    if args.output:  # fail before the first frame, not after an hour of video
        check_writable(args.output, is_folder=source_is_folder, source=args.source)
    show = not args.no_display and display_available()
    if not args.no_display and not show:
        log.warning("no display found: running without a window (see --output, --json)")
    if show:  # the s key must not fail after an hour of watching
        check_writable(args.snapshots, is_folder=True)

    with ExitStack() as stack:
        source = stack.enter_context(open_source(args.source))
        reader = Reader(args.model, min_confidence=args.min_confidence,
                        sensitivity=args.sensitivity, track=not source.is_still)
        json_sink = stack.enter_context(JsonLinesSink()) if args.json else None
        write_output = _open_output(args.output, source, stack) if args.output else None
        window = stack.enter_context(Window()) if show else None
        controls = _Controls()
        fps, last_tick, frames, last_text = 0.0, time.perf_counter(), 0, None
        raw = None  # the frame before drawing, for the debug view; one buffer, reused

        for frame in source:
            if source.is_still:
                reader.reset()
            result = reader.read(frame.image)
            frames += 1
            now = time.perf_counter()
            instant_fps = 1.0 / max(now - last_tick, 1e-6)
            fps = FPS_SMOOTHING * fps + (1 - FPS_SMOOTHING) * instant_fps if fps else instant_fps
            last_tick = now
            if json_sink is not None:
                json_sink.write(result.to_json(frame.name, frame.index))
            elif window is None:  # headless and no JSON: say what is read when it changes
                text = " ".join(n.text for n in result.numbers)
                if text != last_text or source.is_still:
                    print(f"{frame.name} frame {frame.index}: {text or '(no numbers)'}",
                          flush=True)
                    last_text = text
            if window is None and write_output is None:
                continue
            if window is not None:
                if raw is None or raw.shape != frame.image.shape:
                    raw = np.empty_like(frame.image)
                np.copyto(raw, frame.image)
            hud = {"FPS": f"{fps:.1f}", "": f"{result.time_ms:.1f} ms",
                   "numbers": str(len(result.numbers))}
            if reader.sensitivity:  # shown while it differs from the default
                hud["sensitivity"] = f"{reader.sensitivity:+.1f}"
            draw_overlay(frame.image, result, hud)
            if write_output is not None:
                write_output(frame.image, frame.name)
            if window is not None:
                _interact(window, controls, reader, raw, frame.image, result, hud, args,
                          still=source.is_still)
                if controls.quit:
                    break

        _report_end(source, frames)
    return EXIT_OK


def _open_output(path: str, source, stack: ExitStack):
    """A `write(image, name)` for the annotated video, photo or folder of photos."""
    if not source.is_still:
        video = stack.enter_context(VideoSink(path, fps=source.fps))
        return lambda image, name: video.write(image)
    sink = ImageFolderSink(path) if Path(str(source.name)).is_dir() else ImageSink(path)
    return stack.enter_context(sink).write


def _interact(window: Window, controls: _Controls, reader: Reader, raw, annotated,
              result: FrameResult, hud: dict, args, still: bool) -> None:
    """Show the frame and act on keys. Stays while paused, and on a photo until a key other
    than a view toggle moves on to the next one."""
    while True:
        view = debug_view(raw, result, result.patch_labels) if controls.debug else annotated
        if controls.help:
            view = view.copy()
            draw_help(view, HELP_LINES)
        action = window.show(view, wait_ms=30 if controls.paused or still else 1)
        if action == "quit":
            controls.quit = True
            return
        if action == "snapshot":
            path = save_snapshot(args.snapshots, annotated, result.to_json("snapshot", 0))
            log.warning("snapshot saved: %s", path)
        elif action == "debug":
            controls.debug = not controls.debug
        elif action == "help":
            controls.help = not controls.help
        elif action in ("more", "less"):
            step = SENSITIVITY_STEP if action == "more" else -SENSITIVITY_STEP
            reader.sensitivity = min(1.0, max(-1.0, reader.sensitivity + step))
            hud["sensitivity"] = f"{reader.sensitivity:+.1f}"
            if controls.paused or still:  # show the new threshold on the frame in view
                result = reader.read(raw)
                annotated[:] = raw
                draw_overlay(annotated, result, hud)
        elif still and action in ("pause", "other"):
            return  # next photo
        elif action == "pause":
            controls.paused = not controls.paused
        if not (controls.paused or still):
            return


def _report_end(source, frames: int) -> None:
    if getattr(source, "stopped_early_at", None) is not None:
        print(f"digit-reader: {source.name}: video ended early at frame {source.stopped_early_at}"
              " (file truncated or corrupt); frames before it were read", file=sys.stderr)
    skipped = getattr(source, "skipped", 0)
    if skipped:
        print(f"digit-reader: skipped {skipped} file(s) that are not images", file=sys.stderr)
    log.info("%d frame(s) read from %s", frames, source.name)
