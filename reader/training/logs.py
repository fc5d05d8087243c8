"""Training logs that fit where they go: a live bar on a terminal, one line per epoch otherwise,
and no TensorFlow C++ chatter unless asked for.

TensorFlow, XLA and the LiteRT converter log from C++ through absl straight to file descriptor
2 ("I0000 00:00:... port.cc:153] oneDNN custom operations are on", "W0000 ... Ignored
output_format", "E0000 ... NodeDef mentions attribute ..."), before and regardless of
TF_CPP_MIN_LOG_LEVEL. `filter_native_logs` puts a pipe on descriptor 2 and drops those lines;
Python's own stderr (warnings, tracebacks, our errors) bypasses the pipe untouched.
No TensorFlow import here: call it before TensorFlow is imported.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import time

# absl's line header: severity letter, MMDD, time, thread id, file:line]
# ("I0000 00:00:1796381375.024140   28015 port.cc:153] ..."), or the older one TensorFlow 2.18
# prints: date, time, severity, file:line]
# ("2026-12-04 17:01:44.412712: E external/.../cuda_fft.cc:477] ...")
_NATIVE_HEADER = re.compile(
    rb"^(?:[IWE]\d{4} [\d:.]+\s+\d+|\d{4}-\d\d-\d\d [\d:.]+: [IWE]) [\w./-]+:\d+\]")
_NATIVE_NOISE = (b"WARNING: All log messages before absl::InitializeLog()",
                 b"To enable the following instructions:")

_installed = False


def quiet_environment() -> None:
    """Environment settings that keep TensorFlow's Python side quiet (before its import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "2")


def filter_native_logs() -> None:
    """Drop TensorFlow's C++ log lines from file descriptor 2 for the rest of the process.

    Fatal lines (F...) and anything else pass through. Safe to call twice.
    """
    global _installed
    if _installed:
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    # Python's stderr writes to the original descriptor directly.
    sys.stderr = io.TextIOWrapper(io.FileIO(original, "w", closefd=False),
                                  line_buffering=True, errors="backslashreplace")
    threading.Thread(target=_pump, args=(read_end, original), daemon=True,
                     name="native-log-filter").start()
    _installed = True


def _pump(read_end: int, original: int) -> None:
    pending = b""
    with io.FileIO(read_end, "r") as source:
        while chunk := source.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not (_NATIVE_HEADER.match(line) or line.startswith(_NATIVE_NOISE)):
                    os.write(original, line + b"\n")
    if pending:
        os.write(original, pending)


def format_seconds(seconds: float) -> str:
    """120 -> '2 min 0 s', 4000 -> '1 h 6 min'."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def epoch_line(epoch: int, epochs: int, logs: dict, epoch_seconds: float,
               seconds_left: float = 0.0) -> str:
    """One epoch as one line: loss, accuracy, validation, time, ETA (wall clock)."""
    parts = [f"epoch {epoch}/{epochs}"]
    if "loss" in logs:
        parts.append(f"loss {logs['loss']:.4f}")
    if "accuracy" in logs:
        parts.append(f"acc {logs['accuracy'] * 100:.2f} %")
    if "val_loss" in logs:
        parts.append(f"val_loss {logs['val_loss']:.4f}")
    if "val_accuracy" in logs:
        parts.append(f"val_acc {logs['val_accuracy'] * 100:.2f} %")
    parts.append(format_seconds(epoch_seconds))
    if seconds_left > 0:
        eta = time.strftime("%H:%M", time.localtime(time.time() + seconds_left))
        parts.append(f"ETA {eta} ({format_seconds(seconds_left)} left)")
    return "  ".join(parts)
