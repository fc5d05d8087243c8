"""What every measurement report starts with: the machine, the command, and a markdown table."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from reader.machine import machine_info  # noqa: F401 - every report starts with it


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as a user could paste it back into a shell."""
    args = list(sys.argv if argv is None else argv)
    return " ".join(["python", *(shlex.quote(a) for a in args)])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; None shows as an en dash, floats with one or two decimals."""

    def cell(value: object) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_text(path: Path, text: str) -> None:
    """Write a report file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
