"""Tesseract 5 as a comparison reader, through the `tesseract` command (not a Python binding).

Settings: `--psm 11` (sparse text: find as much text as possible in no particular order, the mode
that suits digits scattered on paper) and a digits-only whitelist. Each TSV word is a number with
Tesseract's box; Tesseract gives no per-character boxes in TSV, so a word's box is split evenly
into one box per character for the digit-level scores.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from reader.errors import UserError

TESSERACT_ARGS = ("--psm", "11", "-c", "tessedit_char_whitelist=0123456789")
WORD_LEVEL = "5"


def tesseract_path() -> str | None:
    """Where the `tesseract` command is, or None when it is not installed."""
    return shutil.which("tesseract")


def tesseract_version() -> str | None:
    """First line of `tesseract --version` (e.g. 'tesseract 5.3.0'), or None when missing."""
    exe = tesseract_path()
    if exe is None:
        return None
    run = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    lines = (run.stdout or run.stderr).strip().splitlines()
    return lines[0].strip() if lines else None


def parse_tsv(tsv_text: str) -> dict:
    """Turn Tesseract's TSV into the `FrameResult.to_json` shape: {'digits': [], 'numbers': []}."""
    digits, numbers = [], []
    for row in csv.DictReader(io.StringIO(tsv_text), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != WORD_LEVEL:
            continue
        text = "".join(c for c in (row.get("text") or "") if c.isdigit())
        if not text:
            continue
        x, y, w, h = (int(row[k]) for k in ("left", "top", "width", "height"))
        confidence = max(float(row.get("conf") or 0.0), 0.0) / 100.0
        numbers.append({"text": text, "confidence": round(confidence, 4), "box": [x, y, w, h]})
        char_w = w / len(text)
        for i, char in enumerate(text):
            left = round(x + i * char_w)
            right = round(x + (i + 1) * char_w)
            digits.append({"label": int(char), "confidence": round(confidence, 4),
                           "box": [left, y, max(right - left, 1), h]})
    return {"digits": digits, "numbers": numbers}


class TesseractReader:
    """Reads a BGR or grey frame with the `tesseract` command; one process per frame."""

    def __init__(self, threads: int = 1):
        exe = tesseract_path()
        if exe is None:
            raise UserError("tesseract: command not found; install it (apt-get install"
                            " tesseract-ocr) or skip the Tesseract comparison")
        self.exe = exe
        # One OpenMP thread keeps the comparison per-core, like the reader's single loop.
        self.env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))
        self._tmpdir = tempfile.TemporaryDirectory(prefix="tesseract-eval-")
        self._image_path = Path(self._tmpdir.name) / "frame.png"

    def read(self, frame: np.ndarray) -> dict:
        """Read one frame; returns {'digits': [...], 'numbers': [...]} like `FrameResult`."""
        if not cv2.imwrite(str(self._image_path), frame):
            raise UserError(f"{self._image_path}: cannot write the frame for tesseract")
        return self.read_file(self._image_path)

    def read_file(self, image_path: str | Path) -> dict:
        """Read an image file directly (no re-encoding)."""
        run = subprocess.run([self.exe, str(image_path), "stdout", *TESSERACT_ARGS, "tsv"],
                             capture_output=True, text=True, env=self.env, check=False)
        if run.returncode != 0:
            message = run.stderr.strip().splitlines()[-1:] or ["no message"]
            raise UserError(f"{image_path}: tesseract failed ({message[0]})")
        return parse_tsv(run.stdout)

    def close(self) -> None:
        """Remove the temporary frame file."""
        self._tmpdir.cleanup()
