"""Pixel helpers the readers share: colour to luminance at full depth, EXIF orientation, hashing."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

# ITU-R BT.601 luma weights, the ones OpenCV and Pillow use for RGB -> grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)

# EXIF orientation (tag 274) -> the numpy steps that bring the stored pixels upright, as data.
# Each step is ("rot90", k) with k counter-clockwise quarter turns, ("fliplr",), ("flipud",)
# or ("transpose",); applied in order. Values agree with Pillow's ImageOps.exif_transpose.
_ORIENTATION_STEPS: dict[int, tuple[tuple[Any, ...], ...]] = {
    1: (),
    2: (("fliplr",),),
    3: (("rot90", 2),),
    4: (("flipud",),),
    5: (("transpose",),),
    6: (("rot90", 3),),
    7: (("transpose",), ("rot90", 2)),
    8: (("rot90", 1),),
}


def _apply_step(arr: NDArray[Any], step: tuple[Any, ...]) -> NDArray[Any]:
    op = step[0]
    if op == "rot90":
        return np.rot90(arr, int(step[1]))
    if op == "fliplr":
        return arr[:, ::-1]
    if op == "flipud":
        return arr[::-1, :]
    return np.swapaxes(arr, 0, 1)


def apply_orientation(arr: NDArray[Any], orientation: int) -> NDArray[Any]:
    """Bring an image stored with an EXIF/TIFF orientation upright.

    Parameters
    ----------
    arr
        Pixels ``(rows, cols)`` or ``(rows, cols, channels)`` as stored in the file.
    orientation
        The EXIF orientation value 1-8; anything else is treated as 1 (upright).

    Returns
    -------
    numpy.ndarray
        A C-contiguous array as a viewer honouring the tag would show it.
    """
    out = arr
    for step in _ORIENTATION_STEPS.get(int(orientation), ()):
        out = _apply_step(out, step)
    return np.ascontiguousarray(out)


def to_luminance(arr: NDArray[Any], *, order: Literal["RGB", "BGR"]) -> NDArray[Any]:
    """Convert colour pixels ``(rows, cols, channels)`` to luminance, keeping dtype and depth.

    Parameters
    ----------
    arr
        Colour pixels; a fourth (alpha) channel is dropped, a two-channel (grey + alpha) image
        keeps its grey channel.
    order
        Channel order of ``arr``: ``"RGB"`` (Pillow, pydicom, tifffile) or ``"BGR"`` (OpenCV).

    Returns
    -------
    numpy.ndarray
        ``(rows, cols)`` in the input dtype (BT.601 weights, rounded, clipped to the dtype).
    """
    if arr.ndim == 2:
        return arr
    channels = arr.shape[2]
    if channels == 1 or channels == 2:
        return np.ascontiguousarray(arr[:, :, 0])
    rgb = arr[:, :, :3]
    if order == "BGR":
        rgb = rgb[:, :, ::-1]
    if arr.dtype in (np.uint8, np.uint16, np.float32):
        import cv2

        return np.asarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))
    grey = rgb.astype(np.float64) @ _LUMA
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        grey = np.clip(np.rint(grey), info.min, info.max)
    return np.ascontiguousarray(grey.astype(arr.dtype))


def pixel_sha256(stored: NDArray[Any]) -> str:
    """SHA-256 of a decoded stored pixel array: C order, little-endian, its own dtype.

    Parameters
    ----------
    stored
        The array as a reader returns it (before any LUT).

    Returns
    -------
    str
        The hex digest; equal for every lossless encoding of the same pixels.
    """
    little = stored.astype(stored.dtype.newbyteorder("<"), order="C", copy=False)
    return hashlib.sha256(np.ascontiguousarray(little).tobytes(order="C")).hexdigest()
