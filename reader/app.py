"""The reading loop: frames from a source through the Reader to the window, files and stdout."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np

from reader.detections import FrameResult, Number
from reader.errors import EXIT_OK, UserError
from reader.overlay import debug_view, draw_banner, draw_help, draw_hud, draw_overlay
from reader.pipeline import Reader
from reader.progress import ProgressBar
from reader.sinks import (
    CsvSink,
    ImageFolderSink,
    ImageSink,
    JsonLinesSink,
    VideoSink,
    check_image_suffix,
    check_video_suffix,
    check_writable,
    save_patches,
    save_snapshot,
)
from reader.sources import open_source
from reader.window import HELP_LINES, Window, display_available

log = logging.getLogger("reader.app")
SENSITIVITY_STEP = 0.1
FPS_SMOOTHING = 0.9  # weight of the past in the shown frames-per-second
POLL_MS = 30  # how often a paused or still view looks for keys
STATUS_SHOWN_S = 3.0  # how long "saved ..." stays on the HUD


class _Controls:
    """What the keys change while the loop runs."""

    def __init__(self) -> None:
        self.paused = self.debug = self.help = self.quit = False
        self.captions = "unsure"
        self.status: tuple[str, str, float] | None = None  # (key, text, shown until)

    def say(self, key: str, text: str) -> None:
        self.status = (key, text, time.monotonic() + STATUS_SHOWN_S)


class _Clock:
    """Paces a video to its frame rate: when each frame is due, and whether it is too late."""

    def __init__(self, fps: float) -> None:
        self.period_s = 1.0 / fps
        self.restart(0)

    def restart(self, index: int) -> None:
        """Frame `index` is due now (at the start, after a pause or a step)."""
        self.origin, self.origin_index = time.monotonic(), index

    def due(self, index: int) -> float:
        return self.origin + (index - self.origin_index) * self.period_s

    def too_late(self, index: int) -> bool:
        """More than a frame behind: drop this frame rather than fall further behind."""
        return time.monotonic() > self.due(index) + self.period_s


def run(args: argparse.Namespace) -> int:
    """Read every frame of `args.source`; show, write and print what the user asked for."""
    source_is_folder = Path(str(args.source)).is_dir()
    if args.output and source_is_folder and Path(args.output).suffix \
            and not Path(args.output).is_dir():
        raise UserError(f"{args.output}: the input is a folder of photos, so --output must be a"
                        " folder too (e.g. --output annotated/)")
    show = not args.no_display and display_available()
    if not args.no_display and not show:
        log.warning("no display found: running without a window (see --output, --json, --csv)")

    with ExitStack() as stack:
        session = _Session(args, show, stack)
        if args.output:  # fail before the first frame, not after an hour of video
            if not source_is_folder:
                (check_image_suffix if session.source.is_still else check_video_suffix)(
                    args.output)
            check_writable(args.output, is_folder=source_is_folder, source=args.source)
        if args.csv:
            check_writable(args.csv, source=args.source)
        if show:  # the s key must not fail after an hour of watching
            check_writable(args.snapshots, is_folder=True)
        session.open_outputs()
        session.run()
    return EXIT_OK


class _Session:
    """One run: the source, the reader, the sinks, the window and what the keys changed."""

    def __init__(self, args: argparse.Namespace, show: bool, stack: ExitStack) -> None:
        self.args, self.stack = args, stack
        self.source = open_source(args.source)
        stack.callback(lambda: self.source.close())
        self.still = self.source.is_still
        self.reader = Reader(args.model, min_confidence=args.min_confidence,
                             sensitivity=args.sensitivity, track=not self.still)
        self.show = show
        self.window: Window | None = None
        self.json_sink = self.csv_sink = self.write_output = self.video_sink = None
        self.controls = _Controls()
        self.photo_count = _count_photos(self.source.name) if Path(self.source.name).is_dir() \
            else None
        # Only a video in the window is paced; with --output every frame is read, none dropped.
        paced = show and not self.still and not getattr(self.source, "is_live", False) \
            and not args.output
        self.clock = _Clock(self.source.fps or 25.0) if paced else None
        self.frames = self.dropped = 0
        self.texts_seen: set[str] = set()
        self.last_text: str | None = None
        self.fps, self.last_tick = 0.0, time.perf_counter()
        self.progress = ProgressBar(getattr(self.source, "frame_count", None)) \
            if not show and not self.still and sys.stderr.isatty() else None
        # The frame on screen: its picture before drawing (the debug view's input; one buffer,
        # reused), with the overlay (no HUD: that is what files and snapshots get), its result.
        self.raw: np.ndarray | None = None
        self.annotated: np.ndarray | None = None
        self.result: FrameResult | None = None
        self.frame = None

    def open_outputs(self) -> None:
        args, stack = self.args, self.stack
        if args.json:
            self.json_sink = stack.enter_context(JsonLinesSink())
        if args.csv:
            self.csv_sink = stack.enter_context(CsvSink(args.csv))
        if args.output:
            if not self.still:
                self.video_sink = stack.enter_context(VideoSink(args.output, fps=self.source.fps))
                self.write_output = lambda image, name: self.video_sink.write(image)
            else:
                sink = ImageFolderSink(args.output) if Path(self.source.name).is_dir() \
                    else ImageSink(args.output)
                self.write_output = stack.enter_context(sink).write
        if self.show:
            self.window = stack.enter_context(Window())

    def run(self) -> None:
        started = time.perf_counter()
        while True:
            for frame in self.source:
                if self.clock is not None and self.frames == 0:
                    self.clock.restart(frame.index)  # the clock starts with the first picture
                elif self.clock is not None and self.clock.too_late(frame.index):
                    self.dropped += 1
                    continue
                self._read(frame)
                if self.controls.quit:
                    break
            if self.controls.quit or self.window is None:
                break
            # The demo plays until the user quits (not when it is being written: --output).
            if self.args.demo and self.frames and self.clock is not None:
                self.source.close()
                self.source = open_source(self.args.source)
                self.reader.reset()
                self.clock.restart(0)
                continue
            if not self.still and self.annotated is not None:
                self._interact(finished=True)  # hold the last frame until the user quits
            break
        if self.progress is not None:
            self.progress.done()
        self._report_end(time.perf_counter() - started)

    def _read(self, frame) -> None:
        if self.still:
            self.reader.reset()
        result = self.reader.read(frame.image)
        self.frames += 1
        now = time.perf_counter()
        instant_fps = 1.0 / max(now - self.last_tick, 1e-6)
        self.fps = FPS_SMOOTHING * self.fps + (1 - FPS_SMOOTHING) * instant_fps \
            if self.fps else instant_fps
        self.last_tick = now
        self.texts_seen.update(n.text for n in result.numbers)
        if self.progress is not None:
            self.progress.update(frame.index + 1)
        # Files first, stdout last: when a pipe reader quits (`| head`), the frames whose text
        # went out are already in --output and --csv.
        if self.csv_sink is not None:
            self.csv_sink.write(frame.name, frame.index, result.numbers)
        if self.window is not None:
            if self.raw is None or self.raw.shape != frame.image.shape:
                self.raw = np.empty_like(frame.image)
            np.copyto(self.raw, frame.image)
        if self.window is not None or self.write_output is not None:
            draw_overlay(frame.image, result, captions=self.controls.captions)
        if self.write_output is not None:
            self.write_output(frame.image, frame.name)
        if self.json_sink is not None:
            self.json_sink.write(result.to_json(frame.name, frame.index))
        else:  # in the window too: what was read can be taken away from the terminal
            self._print_rows(frame, result)
        if self.window is not None:
            self.frame, self.result, self.annotated = frame, result, frame.image
            self._interact()

    def _print_rows(self, frame, result: FrameResult) -> None:
        rows = [" ".join(n.text for n in row) for row in number_rows(result.numbers)]
        text = "\n".join(rows)
        if text == self.last_text and not self.still:
            return
        self.last_text = text
        where = frame.name if self.still else f"frame {frame.index}"
        if self.progress is not None:
            self.progress.clear()
        print("\n".join(f"{where}: {row}" for row in rows or ["(no numbers)"]), flush=True)

    # --- the window --------------------------------------------------------------------------

    def _hud(self) -> dict[str, str]:
        frame, result = self.frame, self.result
        hud: dict[str, str] = {}
        if self.photo_count is not None:
            hud[""] = f"{frame.name}  {frame.index + 1}/{self.photo_count}"
        elif self.still:
            hud[""] = Path(frame.name).name
        else:
            hud["FPS"] = f"{self.fps:.1f}"
        hud["ms"] = f"{result.time_ms:.1f}"
        hud["numbers"] = str(len(result.numbers))
        if self.reader.sensitivity:  # shown while it differs from the default
            hud["sensitivity"] = f"{self.reader.sensitivity:+.1f}"
        status = self.controls.status
        if status is not None and time.monotonic() < status[2]:
            hud[status[0]] = status[1]
        return hud

    def _caption(self, finished: bool = False) -> str:
        name = Path(self.frame.name).name
        if self.photo_count is not None:
            return f"digit-reader - {name} ({self.frame.index + 1}/{self.photo_count})"
        return f"digit-reader - {name}" + (" - finished" if finished else "")

    def _view(self, finished: bool) -> np.ndarray:
        controls = self.controls
        if controls.debug:
            view = debug_view(self.raw, self.result, self.result.patch_labels)
        else:
            view = self.annotated.copy()
        draw_hud(view, self._hud())
        if finished:
            draw_banner(view, "finished - q to quit")
        elif controls.paused:
            draw_banner(view, "PAUSED")
        if controls.help:
            draw_help(view, HELP_LINES)
        return view

    def _redraw(self, reread: bool = False) -> None:
        """Redraw the overlay of the frame in view; `reread` it first (new sensitivity)."""
        if reread:
            self.result = self.reader.read(self.raw)
        self.annotated[:] = self.raw
        draw_overlay(self.annotated, self.result, captions=self.controls.captions)

    def _interact(self, finished: bool = False) -> None:
        """Show the frame and act on keys until it is time for the next one. Stays while
        paused, on a photo until a key other than a view toggle moves on, and on a finished
        video until the user quits."""
        controls, window = self.controls, self.window
        window.set_caption(self._caption(finished))
        while True:
            holding = controls.paused or self.still or finished
            if holding or self.clock is None:
                wait_ms = POLL_MS if holding else 1
            else:
                wait_ms = (self.clock.due(self.frame.index) - time.monotonic()) * 1000.0
            action = window.show(self._view(finished), wait_ms=max(1, round(min(wait_ms,
                                                                             POLL_MS * 10))))
            if action is None:
                if not holding and (self.clock is None
                                    or time.monotonic() >= self.clock.due(self.frame.index)):
                    return
                continue
            if action == "quit":
                controls.quit = True
                return
            if action == "snapshot":
                self._save(self._snapshot)
            elif action == "teach":
                self._save(self._teach)
            elif action == "debug":
                controls.debug = not controls.debug
            elif action == "help":
                controls.help = not controls.help
            elif action == "captions":
                controls.captions = "all" if controls.captions == "unsure" else "unsure"
                self._redraw()
            elif action in ("more", "less"):
                step = SENSITIVITY_STEP if action == "more" else -SENSITIVITY_STEP
                self.reader.sensitivity = min(1.0, max(-1.0, self.reader.sensitivity + step))
                if holding:  # show the new threshold on the frame in view
                    self._redraw(reread=True)
            elif finished:
                continue  # the last frame stays until the user quits
            elif self.still and action in ("pause", "step", "other"):
                return  # next photo
            elif action == "pause":
                controls.paused = not controls.paused
                if not controls.paused and self.clock is not None:
                    self.clock.restart(self.frame.index + 1)
            elif action == "step" and controls.paused:
                if self.clock is not None:
                    self.clock.restart(self.frame.index + 1)
                return  # the next frame, still paused

    def _save(self, save) -> None:
        """Run a key's save; a failure (disk full, no permission) is shown, not fatal."""
        try:
            save()
        except UserError as exc:
            self.controls.say("error", str(exc))
            log.warning("%s", exc)

    def _snapshot(self) -> None:
        path = save_snapshot(self.args.snapshots, self.annotated,
                             self.result.to_json(self.frame.name, self.frame.index))
        self.controls.say("saved", path.name)
        log.warning("snapshot saved: %s", path)

    def _teach(self) -> None:
        patches, labels = self.result.patches, self.result.patch_labels
        if patches is None or labels is None or not len(patches):
            self.controls.say("teach", "no patches in this frame")
            return
        paths = save_patches(self.args.teach_dir, patches, labels, self.frame.name,
                             self.frame.index)
        folder = Path(self.args.teach_dir)
        self.controls.say("saved", f"{len(paths)} patches to {folder}/0-9")
        log.warning("saved %d patches under %s/<label>/; move wrong ones to the right folder,"
                    " then: python scripts/train.py --extra-data %s --finetune",
                    len(paths), folder, folder)

    def _report_end(self, elapsed_s: float) -> None:
        source = self.source
        if getattr(source, "stopped_early_at", None) is not None:
            print(f"digit-reader: {source.name}: video ended early at frame "
                  f"{source.stopped_early_at} (file truncated or corrupt); frames before it "
                  "were read", file=sys.stderr)
        skipped = getattr(source, "skipped", 0)
        if skipped:
            print(f"digit-reader: skipped {skipped} file(s) that are not images", file=sys.stderr)
        what = "photo(s)" if self.still else "frame(s)"
        rate = f" ({self.frames / elapsed_s:.0f}/s)" if elapsed_s > 0 and not self.still else ""
        dropped = f", {self.dropped} skipped to keep pace" if self.dropped else ""
        print(f"digit-reader: {self.frames} {what} read in {elapsed_s:.1f} s{rate}{dropped};"
              f" {len(self.texts_seen)} different number(s) seen", file=sys.stderr)
        if self.video_sink is not None and self.video_sink.frames_written:
            print(f"digit-reader: wrote {self.args.output} ({self.video_sink.codec})",
                  file=sys.stderr)


def number_rows(numbers: list[Number]) -> list[list[Number]]:
    """Numbers in reading order, grouped into rows: a number whose vertical centre lies within
    a row's first number's height joins that row; rows top to bottom, numbers left to right."""
    rows: list[list[Number]] = []
    for number in sorted(numbers, key=lambda n: n.box[1] + n.box[3] / 2):
        centre_y = number.box[1] + number.box[3] / 2
        for row in rows:
            top, height = row[0].box[1], row[0].box[3]
            if top <= centre_y <= top + height:
                row.append(number)
                break
        else:
            rows.append([number])
    return [sorted(row, key=lambda n: n.box[0]) for row in rows]


def _count_photos(folder: str) -> int | None:
    """How many pictures a folder holds (for "2/14"), counted as the folder source reads them."""
    try:
        return sum(1 for path in Path(folder).iterdir()
                   if not path.name.startswith(".") and path.is_file()
                   and cv2.haveImageReader(str(path)))
    except OSError:
        return None
