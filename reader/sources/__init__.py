"""Where frames come from: one call, `open_source(spec)`, for a camera, video, photo, folder or URL.

Every source yields `Frame`s holding a 3-channel BGR uint8 image, so the stages after it never
have to care what the input was. Frames are produced by generators, so memory stays flat however
long the video or large the folder.

    with open_source("0") as source:          # camera 0; "clip.mp4", "photo.jpg", "scans/",
        for frame in source:                  # "rtsp://host/stream" work the same way
            result = reader.read(frame.image)

By job: `choose.py` picks the source for a spec, `files.py` reads photos, folders and videos,
`live.py` runs the reading thread that `camera.py` and `stream.py` open devices and URLs for,
and `base.py` holds what they all share. Decoding and normalising pictures lives outside the
stage, in `reader/frames.py`, so the pipeline never imports from here.
"""

from reader.sources.base import Frame, FrameSource
from reader.sources.camera import CameraSource, list_cameras
from reader.sources.choose import open_source
from reader.sources.files import IMAGE_EXTENSIONS, FolderSource, ImageFileSource, VideoFileSource
from reader.sources.live import LiveSource
from reader.sources.stream import StreamSource, redact_url

__all__ = [
    "IMAGE_EXTENSIONS", "CameraSource", "FolderSource", "Frame", "FrameSource", "ImageFileSource",
    "LiveSource", "StreamSource", "VideoFileSource", "list_cameras", "open_source", "redact_url",
]
