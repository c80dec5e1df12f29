"""Plain-image readers: PNG (OpenCV, after a chunk/CRC check), JPEG (Pillow), TIFF (tifffile).

8 and 16 bit, greyscale or colour (reduced to luminance at the same depth), upright per the
EXIF/TIFF orientation. Decoders that would silently return partial pixels are guarded.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import (
    CorruptFileError,
    Photometric,
    Radiograph,
    RadiographError,
    UnsupportedFormatError,
)
from orthogui.io.readers._pixels import apply_orientation, to_luminance

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORIENTATION_TAG = 274


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _orientation_from_exif(raw: bytes) -> int:
    """The orientation in an EXIF block (TIFF header, optionally after 'Exif\\0\\0'); 1 if none."""
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(raw)
    except Exception:
        return 1  # an unreadable EXIF block is not a reason to refuse the pixels
    value = exif.get(_ORIENTATION_TAG, 1)
    return int(value) if isinstance(value, int) else 1


def _png_chunks(path: Path, data: bytes) -> dict[str, Any]:
    """Walk the PNG chunks, verifying lengths and CRCs; return IHDR size, sBIT and eXIf.

    OpenCV returns ``None`` or a partly decoded image for a damaged PNG without saying which,
    so the container is checked here first.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise CorruptFileError(path, "not a PNG stream (bad signature)")
    info: dict[str, Any] = {}
    pos, n = len(PNG_SIGNATURE), len(data)
    first = True
    while True:
        if pos + 8 > n:
            raise CorruptFileError(path, f"truncated PNG: file ends at byte {n} before IEND")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        name = ctype.decode("latin-1")
        end = pos + 8 + length + 4
        if end > n:
            raise CorruptFileError(
                path, f"truncated PNG: chunk {name!r} at byte {pos} needs {end} bytes, file has {n}"
            )
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(body, zlib.crc32(ctype)) != crc:
            raise CorruptFileError(path, f"PNG chunk {name!r} at byte {pos} fails its CRC check")
        if first and ctype != b"IHDR":
            raise CorruptFileError(path, "PNG does not start with an IHDR chunk")
        first = False
        if ctype == b"IHDR" and length >= 10:
            info["width"], info["height"], info["bit_depth"] = struct.unpack(">IIB", body[:9])
        elif ctype == b"sBIT":
            info["sbit"] = max(body) if body else None
        elif ctype == b"eXIf":
            info["exif"] = body
        elif ctype == b"IEND":
            return info
        pos = end


def read_png(path: Path) -> Radiograph:
    """Read a PNG (1-16 bit, grey, palette or colour) at full depth.

    Parameters
    ----------
    path
        The PNG file.

    Returns
    -------
    Radiograph
        ``stored`` is uint8 or uint16; colour becomes luminance (``metadata['converted_from']``);
        ``bits_stored`` follows an sBIT chunk when there is one.

    Raises
    ------
    CorruptFileError
        Truncated stream, a chunk failing its CRC, or pixels that do not decode.
    """
    import cv2

    data = path.read_bytes()
    info = _png_chunks(path, data)
    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise CorruptFileError(path, "PNG pixel data cannot be decoded")
    if arr.shape[:2] != (info.get("height"), info.get("width")):
        raise CorruptFileError(path, f"PNG decoded to {arr.shape[:2]}, IHDR says otherwise")
    meta: dict[str, Any] = {}
    if arr.ndim == 3 and arr.shape[2] > 2:
        meta["converted_from"] = "RGBA" if arr.shape[2] == 4 else "RGB"
    arr = to_luminance(arr, order="BGR")
    orientation = _orientation_from_exif(info["exif"]) if "exif" in info else 1
    if orientation != 1:
        meta["exif_orientation"] = orientation
    bits = int(arr.dtype.itemsize * 8)
    sbit = info.get("sbit")
    if isinstance(sbit, int) and 0 < sbit < bits:
        bits = sbit
    return Radiograph(
        path=str(path),
        format="png",
        stored=apply_orientation(arr, orientation),
        bits_stored=bits,
        metadata=meta,
    )


def read_jpeg(path: Path) -> Radiograph:
    """Read a JPEG (baseline or progressive, grey or colour), upright per its EXIF orientation.

    Parameters
    ----------
    path
        The JPEG file.

    Returns
    -------
    Radiograph
        ``stored`` is uint8 luminance; the orientation applied is in ``metadata``.

    Raises
    ------
    CorruptFileError
        A truncated or undecodable stream (Pillow refuses truncated data; OpenCV would not).
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            orientation = int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
            im.load()
            mode = im.mode
            grey = im if mode in ("L", "I;16", "I") else im.convert("L")
            arr = np.array(grey)
    except RadiographError:
        raise
    except Exception as exc:
        raise CorruptFileError(path, _one_line(f"JPEG cannot be decoded: {exc}")) from exc
    meta: dict[str, Any] = {}
    if mode not in ("L", "I;16", "I"):
        meta["converted_from"] = mode
    if orientation != 1:
        meta["exif_orientation"] = orientation
    return Radiograph(
        path=str(path),
        format="jpeg",
        stored=apply_orientation(arr, orientation),
        bits_stored=int(arr.dtype.itemsize * 8),
        metadata=meta,
    )


# TIFF Photometric (tag 262) -> our photometric; colour values are reduced to luminance.
_TIFF_PHOTOMETRIC: dict[int, Photometric] = {0: "MONOCHROME1", 1: "MONOCHROME2"}
_TIFF_COLOUR = {2: "RGB", 6: "YCbCr"}


def _tiff_pixels(path: Path) -> tuple[NDArray[Any], int, int, int]:
    """(pixels, photometric tag, orientation tag, pages) of the first TIFF image."""
    import tifffile

    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        page = tf.pages.first
        if len(series.shape) > len(page.shape):
            raise UnsupportedFormatError(
                path, f"TIFF stack of shape {series.shape}; only single images are read"
            )
        photometric = int(page.photometric)
        orientation_tag = page.tags.get(_ORIENTATION_TAG)
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
        try:
            arr = page.asarray()
        except ValueError as exc:
            if "imagecodecs" not in str(exc):
                raise
            arr = _tiff_with_pillow(path)  # compressions tifffile needs imagecodecs for
        else:
            if page.samplesperpixel > 1 and int(page.planarconfig) == 2:
                arr = np.moveaxis(arr, 0, -1)  # planar (samples, rows, cols) -> interleaved
        return np.asarray(arr), photometric, orientation, len(tf.pages)


def _tiff_with_pillow(path: Path) -> NDArray[Any]:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return np.array(im)


def read_tiff(path: Path) -> Radiograph:
    """Read the first image of a TIFF at full depth (8/16/32 bit, integer or float).

    Parameters
    ----------
    path
        The TIFF file.

    Returns
    -------
    Radiograph
        MINISWHITE becomes MONOCHROME1; colour becomes luminance; the orientation tag applied.

    Raises
    ------
    UnsupportedFormatError
        A multi-page stack or a palette image.
    CorruptFileError
        A truncated or undecodable file.
    """
    try:
        arr, photometric_tag, orientation, pages = _tiff_pixels(path)
    except RadiographError:
        raise
    except Exception as exc:
        raise CorruptFileError(path, _one_line(f"TIFF cannot be decoded: {exc}")) from exc
    meta: dict[str, Any] = {}
    if pages > 1:
        meta["tiff_pages"] = pages
    if photometric_tag in _TIFF_COLOUR:
        meta["converted_from"] = _TIFF_COLOUR[photometric_tag]
        arr = to_luminance(arr, order="RGB")
    elif photometric_tag not in _TIFF_PHOTOMETRIC:
        raise UnsupportedFormatError(path, f"TIFF photometric {photometric_tag} is not supported")
    if arr.ndim != 2:
        raise UnsupportedFormatError(path, f"TIFF image of shape {arr.shape} is not greyscale")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if orientation != 1:
        meta["tiff_orientation"] = orientation
    return Radiograph(
        path=str(path),
        format="tiff",
        stored=apply_orientation(arr, orientation),
        bits_stored=int(arr.dtype.itemsize * 8),
        photometric=_TIFF_PHOTOMETRIC.get(photometric_tag, "MONOCHROME2"),
        metadata=meta,
    )
