"""Image files for a snapshot: what a file's header says about the patient, and how it is written.

DICOM goes out de-identified (``orthogui.io.deid``); PNG, JPEG and TIFF are re-encoded from their
decoded pixels, so no EXIF, XMP, text chunk or comment travels with them; a byte copy never
leaves. Formats are recognised by content (the readers' registry), not by name. Boxes of
burned-in text (``orthogui.io.burned_in``) are blacked out in whatever pixels are written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.errors import PathError
from orthogui.core.radiograph import Radiograph
from orthogui.io.deid import deidentify_dataset, dicom_phi_terms

JPEG_QUALITY = 95
"""Quality of re-encoded JPEG files (``original`` mode; ``png16`` keeps every pixel value)."""

_SUFFIX_OF_FORMAT = {"dicom": ".dcm", "png": ".png", "jpeg": ".jpg", "tiff": ".tif"}
_KEPT_SUFFIXES = frozenset({".dcm", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
_EXIF_IFDS = (0x8769, 0x8825, 0xA005)  # Exif, GPS, interoperability
_XMP_TEXT = re.compile(rb">([^<>]{3,})<|\"([^\"<>]{3,})\"")
CLEAN_PIXELS_CODE = ("113101", "Clean Pixel Data Option")
"""``DeidentificationMethodCodeSequence`` item (CID 7050) added to a DICOM whose pixels were masked."""

Box = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in image pixels, the end exclusive."""


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


class MaskNotWritten(PathError, ValueError):
    """A DICOM file whose masked pixels cannot be encoded again; ``str()`` names it."""


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


def darkest_value(rg: Radiograph) -> float:
    """The stored value, of the image's own range, that displays darkest (its minimum, or its
    maximum where high values show dark: MONOCHROME1, an inverse LUT)."""
    from dataclasses import replace

    from orthogui.io.display import render

    lo, hi = rg.stored.min(), rg.stored.max()
    shown = render(replace(rg, stored=np.array([[lo, hi]], dtype=rg.stored.dtype)))
    return float(lo if shown[0, 0] <= shown[0, 1] else hi)


def masked(pixels: NDArray[Any], boxes: Sequence[Box], value: float) -> NDArray[Any]:
    """A copy of ``pixels`` (rows, cols[, samples]) with every box set to ``value``."""
    out = pixels.copy()
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = value
    return out


def _png_pixels(
    rg: Radiograph, *, mode: ImageMode, window: tuple[float, float] | None, boxes: Sequence[Box]
) -> NDArray[Any]:
    """Pixels for a PNG export: stored values (PNG16) or the display rendering (PNG8), with
    the boxes black."""
    from orthogui.io.display import render

    if mode is ImageMode.PNG8:
        out: NDArray[Any] = render(rg, window)
        return masked(out, boxes, 0) if boxes else out
    stored = masked(rg.stored, boxes, darkest_value(rg)) if boxes else rg.stored
    return _uint16(stored)


def _imwrite(dst: Path, pixels: NDArray[Any], params: list[int] | None = None) -> None:
    import cv2

    if not cv2.imwrite(str(dst), np.ascontiguousarray(pixels), params or []):
        raise OSError(f"{dst}: cannot write the image")


def reencode_raster(
    src: Path,
    dst: Path,
    fmt: str,
    *,
    boxes: Sequence[Box] = (),
    radiograph: Radiograph | None = None,
) -> None:
    """Write a PNG, JPEG or TIFF anew from its decoded pixels, with no metadata at all.

    The pixels are those the reader gives (upright per the EXIF orientation, colour reduced to
    luminance): the frame the annotations were drawn in. PNG and TIFF keep every value; JPEG
    is encoded again at ``JPEG_QUALITY``. ``boxes`` are set to the darkest value first;
    ``radiograph`` is ``src`` already read.

    Raises
    ------
    RadiographError
        The source does not decode (naming it).
    OSError
        The copy cannot be written.
    """
    from orthogui.io.readers import read_radiograph

    rg = radiograph if radiograph is not None else read_radiograph(src)
    stored = masked(rg.stored, boxes, darkest_value(rg)) if boxes else rg.stored
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


def deidentify_dicom_masked(
    src: Path,
    dst: Path,
    *,
    salt: str,
    terms: frozenset[str] | None,
    boxes: Sequence[Box] = (),
    radiograph: Radiograph | None = None,
) -> None:
    """A de-identified copy of a DICOM file (``orthogui.io.deid``), its pixels masked.

    Masked pixel data is written uncompressed (Explicit VR Little Endian; a lossy source stays
    marked lossy), and the Clean Pixel Data Option joins the de-identification method codes.
    ``radiograph`` (``src`` already read) gives the value that displays darkest.

    Raises
    ------
    ValueError
        The file is not DICOM, naming it.
    MaskNotWritten
        Its pixels cannot be written again as they are (float, big endian).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:  # a raw data set without preamble is read when the caller vouches (``.dcm`` name)
        ds = pydicom.dcmread(str(src), force=src.suffix.lower() in (".dcm", ".dicom"))
    except InvalidDicomError as exc:
        raise ValueError(f"{src}: not a DICOM file ({exc})") from exc
    deidentify_dataset(ds, salt=salt, terms=terms)
    if boxes:
        from pydicom.dataset import Dataset

        from orthogui.io.readers import read_radiograph

        rg = radiograph if radiograph is not None else read_radiograph(src)
        arr = np.asarray(ds.pixel_array)
        colour = arr.ndim == 3
        value = 0.0 if colour else darkest_value(rg)
        photometric = "RGB" if colour else str(ds.PhotometricInterpretation)
        try:
            ds.set_pixel_data(
                masked(arr, boxes, value),
                photometric_interpretation=photometric,
                bits_stored=int(ds.BitsStored),
                generate_instance_uid=False,
            )
        except (NotImplementedError, ValueError) as exc:  # float pixels, big endian
            raise MaskNotWritten(src, f"cannot encode them again: {exc}") from exc
        item = Dataset()
        item.CodeValue, item.CodeMeaning = CLEAN_PIXELS_CODE
        item.CodingSchemeDesignator = "DCM"
        ds.DeidentificationMethodCodeSequence.append(item)
    ds.save_as(str(dst), enforce_file_format=False)


def require_image(src: Path) -> str:
    """The format of ``src`` by content (``image_format``).

    Raises
    ------
    UnsupportedImageFile
        Not a PNG, JPEG, TIFF or DICOM file by content (naming it): nothing else is copied.
    """
    fmt = image_format(src)
    if not fmt:
        raise UnsupportedImageFile(src, "not a PNG, JPEG, TIFF or DICOM file; not copied")
    return fmt


def write_image(
    src: Path,
    dst: Path,
    *,
    mode: ImageMode,
    salt: str,
    window: tuple[float, float] | None = None,
    terms: frozenset[str] | None = None,
    boxes: Sequence[Box] = (),
    radiograph: Radiograph | None = None,
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
    boxes
        Regions (``x0, y0, x1, y1`` in the reader's pixels) to black out: burned-in text.
    radiograph
        ``src`` as already read (saves reading it again).

    Raises
    ------
    UnsupportedImageFile
        Not a PNG, JPEG, TIFF or DICOM file by content (naming it): nothing else is copied.
    """
    if mode is ImageMode.NONE:
        return
    fmt = require_image(src)
    if mode is ImageMode.ORIGINAL:
        if fmt == "dicom":
            deidentify_dicom_masked(
                src, dst, salt=salt, terms=terms, boxes=boxes, radiograph=radiograph
            )
        else:
            reencode_raster(src, dst, fmt, boxes=boxes, radiograph=radiograph)
        return
    from orthogui.io.readers import read_radiograph

    rg = radiograph if radiograph is not None else read_radiograph(src)
    _imwrite(dst, _png_pixels(rg, mode=mode, window=window, boxes=boxes))
