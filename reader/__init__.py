"""digit-reader: find handwritten digits in camera frames, video and photos, and read them.

The frame's journey, one module per stage:
sources -> threshold -> contours -> patches -> classify -> tracking -> numbers -> overlay -> sinks,
wired together by `pipeline.Reader` and driven by `app` (the window) and `cli` (the command).
"""

__version__ = "0.1.0"
