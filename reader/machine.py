"""The machine a figure was measured on: named once, the same way in every report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import cv2
import numpy as np


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or the platform's guess elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict:
    """CPU model, core count, OS and library versions: enough to compare two reports fairly."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__,
            "opencv": cv2.__version__}


def machine_description() -> str:
    """One line for a model card or a README caption: CPU model, cores, operating system."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()}"
