"""What every source yields (`Frame`) and is (`FrameSource`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from typing import Self  # 3.11+; annotations are not evaluated at run time

# A camera or stream that reports a frame rate outside this range is reporting nonsense
# (0, NaN, or an RTP clock of 90000); treat it as unknown.
PLAUSIBLE_FPS = (1.0, 240.0)

# Anything with read() -> (ok, image), isOpened(), release(), get(prop): cv2.VideoCapture or a fake.
CaptureFactory = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Frame:
    """One input picture: BGR uint8 (H, W, 3), its frame number, and where it came from."""

    image: np.ndarray
    index: int
    name: str


class FrameSource:
    """Iterable of `Frame`s; close it (or use `with`) to free the camera or file.

    Attributes the loop may look at:
      is_live: camera or stream; frames may be dropped so processing never lags behind.
      is_still: a photo or folder of photos; each frame is a separate picture.
      fps: frames per second the source reports, or None when unknown or not a video.
      skipped: files of a folder that were not images (folders only; 0 otherwise).
      dropped: live frames replaced by a newer one before the loop took them.
      stopped_early_at: for a video that ended before its stated length (truncated or corrupt),
        the number of frames read; None otherwise. Known once iteration has ended.
    Iterate a source once; a second loop continues where the first stopped (or yields nothing).
    """

    is_live = False
    is_still = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.fps: float | None = None
        self.skipped = 0
        self.dropped = 0
        self.stopped_early_at: int | None = None

    def __iter__(self) -> Iterator[Frame]:
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def plausible_fps(fps: float) -> float | None:
    """The reported frame rate, or None when it is outside `PLAUSIBLE_FPS`."""
    low, high = PLAUSIBLE_FPS
    return float(fps) if fps and low <= fps <= high else None
