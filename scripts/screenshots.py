#!/usr/bin/env python3
"""Screenshots of the live window for README, made on a virtual display.

Usage:
  python scripts/screenshots.py                  # -> reader/assets/screenshot-*.png, .jpg
  python scripts/screenshots.py --photo big.jpg  # the large-photo shot from this photo
                                                 # (default: a generated 4000x3000 scene)

Needs Xvfb, xwd and xdotool (Debian: apt-get install xvfb x11-apps xdotool). The window test
uses the same helpers (reader/screenshots.py), so the pictures and the test see the same thing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from reader.screenshots import ASSETS, readme_screenshots, tools_missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, help="large photo for screenshot-large-photo.jpg")
    parser.add_argument("--out", type=Path, default=ASSETS, help=f"folder (default: {ASSETS})")
    args = parser.parse_args()
    missing = tools_missing()
    if missing:
        print(f"screenshots: missing {', '.join(missing)}; apt-get install xvfb x11-apps xdotool",
              file=sys.stderr)
        return 2
    for path in readme_screenshots(args.out, args.photo):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
