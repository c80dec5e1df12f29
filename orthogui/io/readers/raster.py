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
from orthogui.io.readers._codestreams import jpeg_dimensions
from orthogui.io.readers._guard import check_decoded_size, fenced
from orthogui.io.readers._pixels import apply_orientation, to_luminance

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORIENTATION_TAG = 274

# PNG colour type -> channels OpenCV decodes it to (a palette becomes BGR).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}

# A truncated baseline JPEG whose decoded rows cover at least this share of the image is shown,
# its missing rows black and flagged in ``metadata['damaged']``; a worse one is refused.
MAX_MISSING_ROWS_FRACTION = 0.5


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
            info["width"], info["height"], info["bit_depth"], info["colour"] = struct.unpack(
                ">IIBB", body[:10]
            )
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
    check_decoded_size(
        path,
        rows=int(info.get("height", 0)),
        columns=int(info.get("width", 0)),
        samples=_PNG_CHANNELS.get(int(info.get("colour", 6)), 4),
        bytes_per_sample=2 if info.get("bit_depth") == 16 else 1,
        source="PNG IHDR",
    )
    with fenced(path, "PNG decoding"):
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
        ``stored`` is uint8 luminance; the orientation applied is in ``metadata``. A
        sequential JPEG cut short after at least half its rows opens with the missing rows
        black and ``metadata['damaged']`` saying how many (``Radiograph.warnings``).

    Raises
    ------
    CorruptFileError
        An undecodable stream, or a truncated one that lost more than half its rows (or is
        progressive, so that no row is complete); a frame header above the size cap.
    """
    data = path.read_bytes()
    dims = jpeg_dimensions(data)
    if dims is not None:
        rows, columns, components, precision = dims
        check_decoded_size(
            path,
            rows=max(rows, 1),
            columns=columns,
            samples=max(components, 1),
            bytes_per_sample=2 if precision > 8 else 1,
            source="JPEG frame header",
        )
    meta: dict[str, Any] = {}
    with fenced(path, "JPEG decoding"):
        arr, mode, orientation = _jpeg_pixels(path, data, meta)
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


def _jpeg_pixels(path: Path, data: bytes, meta: dict[str, Any]) -> tuple[NDArray[Any], str, int]:
    """(pixels as stored, Pillow mode, EXIF orientation); salvages a truncated sequential JPEG."""
    from io import BytesIO

    from PIL import Image

    try:
        with Image.open(BytesIO(data)) as im:
            orientation = int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
            mode = im.mode
            try:
                im.load()
            except OSError as exc:
                if "truncated" not in str(exc):
                    raise
                return _salvage_truncated(path, data, meta, str(exc)), mode, orientation
            grey = im if mode in ("L", "I;16", "I") else im.convert("L")
            return np.array(grey), mode, orientation
    except RadiographError:
        raise
    except Exception as exc:
        raise CorruptFileError(path, _one_line(f"JPEG cannot be decoded: {exc}")) from exc


def _salvage_truncated(path: Path, data: bytes, meta: dict[str, Any], why: str) -> NDArray[Any]:
    """Decode a truncated JPEG twice onto canvases of different fill; rows that differ are missing.

    libjpeg emits only complete scanlines, so the rows both decodes agree on are exactly the
    ones the file holds. The missing rows become 0 and ``meta['damaged']`` says how many.
    """
    from io import BytesIO

    from PIL import Image

    decoded: list[NDArray[Any]] = []
    with Image.open(BytesIO(data)) as im:
        if len(im.tile) != 1:
            raise CorruptFileError(path, _one_line(f"JPEG cannot be decoded: {why}"))
        codec, extents, offset, args = im.tile[0]
        for fill in (0, 255):
            canvas = Image.new(im.mode, im.size, (fill,) * len(im.getbands()))
            decoder = Image._getdecoder(im.mode, codec, args, im.decoderconfig)
            try:
                decoder.setimage(canvas.im, extents)
                decoder.decode(data[offset:])
            finally:
                decoder.cleanup()
            grey = canvas if im.mode in ("L", "I;16", "I") else canvas.convert("L")
            decoded.append(np.array(grey))
    lost = np.any(decoded[0] != decoded[1], axis=1)
    missing, height = int(lost.sum()), int(lost.size)
    if missing == 0:
        return decoded[0]  # only what follows the last scanline is gone (e.g. the EOI marker)
    if missing > MAX_MISSING_ROWS_FRACTION * height:
        raise CorruptFileError(
            path,
            _one_line(
                f"JPEG cannot be decoded: {why}; only {height - missing} of {height} rows "
                "could be recovered"
            ),
        )
    arr = decoded[0]
    arr[lost] = 0
    meta["damaged"] = (
        f"{missing} rows missing (of {height}, at the end of the stored image: the file is "
        f"truncated at byte {len(data):,}); shown black"
    )
    meta["damaged_rows"] = missing
    return arr


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
        check_decoded_size(
            path,
            rows=int(page.imagelength),
            columns=int(page.imagewidth),
            samples=int(page.samplesperpixel) * max(int(page.imagedepth), 1),
            bytes_per_sample=int(page.dtype.itemsize) if page.dtype is not None else 1,
            source="TIFF tags",
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
        with fenced(path, "TIFF decoding"):
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
