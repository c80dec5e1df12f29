"""Image files for a snapshot: what a file's header says about the patient, and how it is written.

DICOM goes out de-identified (``orthogui.io.deid``); PNG, JPEG and TIFF are re-encoded from their
decoded pixels, so no EXIF, XMP, text chunk or comment travels with them; a byte copy never
leaves. Formats are recognised by content (the readers' registry), not by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.errors import PathError
from orthogui.io.deid import deidentify_dicom, dicom_phi_terms

JPEG_QUALITY = 95
"""Quality of re-encoded JPEG files (``original`` mode; ``png16`` keeps every pixel value)."""

_SUFFIX_OF_FORMAT = {"dicom": ".dcm", "png": ".png", "jpeg": ".jpg", "tiff": ".tif"}
_KEPT_SUFFIXES = frozenset({".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
_EXIF_IFDS = (0x8769, 0x8825, 0xA005)  # Exif, GPS, interoperability
_XMP_TEXT = re.compile(rb">([^<>]{3,})<|\"([^\"<>]{3,})\"")


class ImageMode(StrEnum):
    """How image files go into a snapshot."""

    ORIGINAL = "original"  # the file's own format: DICOM de-identified, others re-encoded
    PNG16 = "png16"  # stored pixels, full depth, as 16-bit PNG (no metadata)
    PNG8 = "png8"  # windowed 8-bit display image as PNG (no metadata)
    NONE = "none"  # annotations only


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: its format, identifying text, burned-in annotation."""

    format: str  # "dicom" | "png" | "jpeg" | "tiff" | "" (unreadable or unknown)
    terms: frozenset[str] = frozenset()
    burned_in: bool = False


class UnsupportedImageFile(PathError, ValueError):
    """A file that is not a PNG, JPEG, TIFF or DICOM by its content; ``str()`` names it."""


def image_format(path: Path) -> str:
    """The format of a file by its first bytes (``.dcm``/``.dicom`` also by name), else ``""``.

    Unlike opening a file for review, a wrong suffix never makes a file an image here: what is
    exported must be what its bytes say.
    """
    from orthogui.io.readers import READERS

    try:
        with path.open("rb") as f:
            head = f.read(132)
    except OSError:
        return ""
    for spec in READERS:
        if any(head[off : off + len(sig)] == sig for off, sig in spec.signatures):
            return spec.format
    return "dicom" if path.suffix.lower() in (".dcm", ".dicom") else ""


def _texts(value: Any) -> list[str]:
    if isinstance(value, bytes):
        for prefix in (b"ASCII\x00\x00\x00", b"UNICODE\x00", b"\x00" * 8):
            if value.startswith(prefix):  # EXIF UserComment character code
                value = value[len(prefix) :]
                break
        if value.lstrip().startswith(b"<"):  # an XMP packet: its element and attribute texts
            return [
                (a or b).decode("utf-8", "replace")
                for a, b in _XMP_TEXT.findall(value)
                if not (a or b).strip().startswith((b"http", b"uuid:", b"xmp."))
            ]
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [t for v in value for t in _texts(v)]
    return []


def raster_phi_terms(path: Path) -> frozenset[str]:
    """Every text value in a PNG, JPEG or TIFF header (EXIF, XMP, text chunks, comments).

    Parameters
    ----------
    path
        The image file.

    Returns
    -------
    frozenset
        Whole values and their comma/semicolon/line parts of three characters or more; all
        of it is treated as identifying, since a header's author and description often are.
    """
    from PIL import Image

    values: list[str] = []
    with Image.open(path) as im:
        for key, value in im.info.items():
            if key not in ("exif", "icc_profile", "dpi", "transparency", "gamma"):
                values += _texts(value)
        exif = im.getexif()
        blocks = [dict(exif)] + [dict(exif.get_ifd(i)) for i in _EXIF_IFDS]
        tags = getattr(im, "tag_v2", None)
        if tags is not None:
            blocks.append(dict(tags))
        for block in blocks:
            for value in block.values():
                values += _texts(value)
    terms: set[str] = set()
    for value in values:
        for text in [value, *re.split(r"[,;\r\n]+", value)]:
            text = text.strip("\x00 \t")
            if len(text) >= 3 and text.isprintable():
                terms.add(text)
    return frozenset(terms)


def inspect_image(path: Path) -> ImageHeader:
    """Read a file's header (never its pixels) for identifying text and burned-in annotation.

    Parameters
    ----------
    path
        The image file; a missing or unreadable file gives ``ImageHeader("")``.

    Returns
    -------
    ImageHeader
        For DICOM, ``terms`` are ``dicom_phi_terms`` and ``burned_in`` is
        ``BurnedInAnnotation == YES``; for the other formats the header's text values.
    """
    fmt = image_format(path)
    if fmt == "dicom":
        import pydicom

        try:
            ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
        except Exception:
            return ImageHeader("")
        burned = str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES"
        return ImageHeader(fmt, dicom_phi_terms(ds), burned)
    if fmt:
        try:
            return ImageHeader(fmt, raster_phi_terms(path))
        except Exception:
            return ImageHeader("")
    return ImageHeader("")


def image_suffix(path: Path, mode: ImageMode, fmt: str) -> str:
    """The suffix of the exported file: PNG for the PNG modes, else the source's own."""
    if mode in (ImageMode.PNG8, ImageMode.PNG16):
        return ".png"
    suffix = path.suffix.lower()
    if suffix in _KEPT_SUFFIXES and (not fmt or _SUFFIX_OF_FORMAT[fmt] == _canonical(suffix)):
        return suffix
    return _SUFFIX_OF_FORMAT.get(fmt, ".dcm")


def _canonical(suffix: str) -> str:
    return {".jpeg": ".jpg", ".tiff": ".tif"}.get(suffix, suffix)


def _uint16(stored: NDArray[Any]) -> NDArray[np.uint16]:
    """Stored pixels as PNG can hold them: signed or float values rescaled over their range."""
    if np.issubdtype(stored.dtype, np.floating) or stored.dtype.itemsize > 2 or stored.min() < 0:
        lo, hi = float(stored.min()), float(stored.max())
        stored = np.rint((stored - lo) / max(hi - lo, 1e-9) * 65535.0)
    return stored.astype(np.uint16)


def _png_pixels(path: Path, *, mode: ImageMode, window: tuple[float, float] | None) -> NDArray[Any]:
    """Pixels for a PNG export: stored values (PNG16) or the display rendering (PNG8)."""
    from orthogui.io.display import render
    from orthogui.io.readers import read_radiograph

    rg = read_radiograph(path)
    if mode is ImageMode.PNG8:
        out: NDArray[Any] = render(rg, window)
        return out
    return _uint16(rg.stored)


def _imwrite(dst: Path, pixels: NDArray[Any], params: list[int] | None = None) -> None:
    import cv2

    if not cv2.imwrite(str(dst), np.ascontiguousarray(pixels), params or []):
        raise OSError(f"{dst}: cannot write the image")


def reencode_raster(src: Path, dst: Path, fmt: str) -> None:
    """Write a PNG, JPEG or TIFF anew from its decoded pixels, with no metadata at all.

    The pixels are those the reader gives (upright per the EXIF orientation, colour reduced to
    luminance): the frame the annotations were drawn in. PNG and TIFF keep every value; JPEG
    is encoded again at ``JPEG_QUALITY``.

    Raises
    ------
    RadiographError
        The source does not decode (naming it).
    OSError
        The copy cannot be written.
    """
    from orthogui.io.readers import read_radiograph

    rg = read_radiograph(src)
    stored = rg.stored
    if fmt == "tiff":
        import tifffile

        tifffile.imwrite(
            dst,
            np.ascontiguousarray(stored),
            photometric="miniswhite" if rg.photometric == "MONOCHROME1" else "minisblack",
            metadata=None,
            software=False,
            description=None,
            datetime=None,
        )
    elif fmt == "jpeg":
        if stored.dtype != np.uint8:
            raise OSError(f"{src}: a {stored.dtype} JPEG cannot be written as 8-bit JPEG again")
        import cv2

        _imwrite(dst, stored, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    else:
        _imwrite(dst, stored if stored.dtype in (np.uint8, np.uint16) else _uint16(stored))


def write_image(
    src: Path,
    dst: Path,
    *,
    mode: ImageMode,
    salt: str,
    window: tuple[float, float] | None = None,
    terms: frozenset[str] | None = None,
) -> None:
    """Write one image of a snapshot.

    Parameters
    ----------
    src, dst
        The project's file and the snapshot's.
    mode
        ``ORIGINAL``: DICOM de-identified, PNG/JPEG/TIFF re-encoded without metadata;
        ``PNG16``/``PNG8``: pixels only. ``NONE`` writes nothing.
    salt
        The snapshot's salt (UIDs, date offset).
    window
        (centre, width) for ``PNG8``; ``None`` = the file's default.
    terms
        Identifying values to scrub from the DICOM text that is kept (default: its header's).

    Raises
    ------
    UnsupportedImageFile
        Not a PNG, JPEG, TIFF or DICOM file by content (naming it): nothing else is copied.
    """
    if mode is ImageMode.NONE:
        return
    fmt = image_format(src)
    if not fmt:
        raise UnsupportedImageFile(src, "not a PNG, JPEG, TIFF or DICOM file; not copied")
    if mode is ImageMode.ORIGINAL:
        if fmt == "dicom":
            deidentify_dicom(src, dst, salt=salt, terms=terms)
        else:
            reencode_raster(src, dst, fmt)
        return
    _imwrite(dst, _png_pixels(src, mode=mode, window=window))
