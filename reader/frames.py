"""Pictures as the pipeline takes them: decoded from a file and normalised to BGR uint8.

Neutral ground between the sources (which decode files and camera frames) and the pipeline
(which accepts whatever array a caller hands it): neither imports the other for this.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reader.opencv_log import quiet_opencv


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any decoded picture as 3-channel BGR uint8; a no-op for frames that already are.

    Gray -> BGR; BGRA -> BGR composited over white (transparent background = blank paper, so
    dark ink drawn on a transparent PNG stays visible); 16-bit -> 8-bit scaled by the smallest
    bit depth that holds the image's largest value (so 12-bit data in a 16-bit file is not
    left nearly black); float -> 0..1 scaled to 0..255.
    """
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image
    if image.dtype != np.uint8:
        image = _to_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 4:
        alpha = image[:, :, 3:4].astype(np.float32) * (1.0 / 255.0)
        colour = image[:, :, :3].astype(np.float32)
        blended = colour * alpha + 255.0 * (1.0 - alpha)
        return np.round(blended).astype(np.uint8)
    if channels == 2:  # gray + alpha, as some decoders return it
        return to_bgr8(cv2.merge([image[:, :, 0]] * 3 + [image[:, :, 1]]))
    return np.ascontiguousarray(image[:, :, :3])


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if np.issubdtype(image.dtype, np.floating):
        peak = float(np.nanmax(image)) if image.size else 0.0
        scale = 255.0 if peak <= 1.0 else 1.0
        return np.clip(np.nan_to_num(image) * scale, 0, 255).astype(np.uint8)
    colour = image[:, :, :3] if image.ndim == 3 and image.shape[2] == 4 else image
    peak = int(colour.max()) if colour.size else 0
    bits = max(8, peak.bit_length())
    converted = cv2.convertScaleAbs(image.astype(np.float32), alpha=255.0 / ((1 << bits) - 1))
    if image.ndim == 3 and image.shape[2] == 4:
        # Alpha has its own full range, whatever the colour data uses.
        full_range = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype,
                                                                        np.integer) else 1.0
        converted[:, :, 3] = np.clip(image[:, :, 3] * (255.0 / full_range), 0, 255)
    return converted


def decode_image_file(path: Path) -> np.ndarray | None:
    """Decode a photo to BGR uint8, or None if it is not one.

    np.fromfile + imdecode instead of imread, because imread cannot open non-ASCII paths on
    Windows. JPEGs are decoded with IMREAD_COLOR so their EXIF orientation (phone photos) is
    applied; other formats with IMREAD_UNCHANGED so alpha and 16-bit data reach to_bgr8
    instead of being dropped or truncated (their EXIF orientation, rare there, is ignored).
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    is_jpeg = data.size > 2 and data[0] == 0xFF and data[1] == 0xD8
    flags = cv2.IMREAD_COLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    with quiet_opencv():
        try:
            image = cv2.imdecode(data, flags)
        except cv2.error:
            return None
    if image is None or image.size == 0:
        return None
    return to_bgr8(image)
