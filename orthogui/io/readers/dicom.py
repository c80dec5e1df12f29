"""DICOM reader: one single-frame greyscale image at full depth, with its LUTs, spacing and identifiers.

pydicom (with the pylibjpeg plugins) decodes every transfer syntax; it is imported on first use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import (
    CorruptFileError,
    ModalityLut,
    NotAnImageError,
    Photometric,
    Radiograph,
    RadiographError,
    SpacingSource,
    UnsupportedFormatError,
    VoiLut,
    WindowPreset,
)
from orthogui.io.readers._codestreams import FrameGeometry, check_frame
from orthogui.io.readers._guard import check_decoded_size, fenced
from orthogui.io.readers._pixels import to_luminance

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
DERIVED_PIXEL_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation (e.g. the results OrthoGUI sends)
        "1.2.840.10008.5.1.4.1.1.66.7",  # Label Map Segmentation
        "1.2.840.10008.5.1.4.1.1.30",  # Parametric Map
    }
)
"""SOP classes that carry pixel data but are results derived from images, not radiographs."""
_REQUIRED = ("Rows", "Columns", "BitsAllocated", "PhotometricInterpretation")

# Photometric interpretation -> what the stored samples become; colour ones are reduced to
# luminance (pydicom already turns YBR into RGB). PALETTE COLOR and others are refused.
_PHOTOMETRIC: dict[str, Photometric | None] = {
    "MONOCHROME1": "MONOCHROME1",
    "MONOCHROME2": "MONOCHROME2",
    "RGB": None,
    "YBR_FULL": None,
    "YBR_FULL_422": None,
    "YBR_ICT": None,
    "YBR_RCT": None,
}

# Header fields a reviewer needs, copied into ``Radiograph.metadata`` as strings.
_METADATA_KEYWORDS = (
    "PatientID",
    "PatientName",
    "PatientSex",
    "PatientAge",
    "PatientBirthDate",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "SeriesDescription",
    "SeriesNumber",
    "InstanceNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "SOPClassUID",
    "BodyPartExamined",
    "ViewPosition",
    "Laterality",
    "ImageLaterality",
    "PatientOrientation",
    "Manufacturer",
    "ManufacturerModelName",
    "InstitutionName",
    "StationName",
    "ImageType",
    "ImageComments",
    "LossyImageCompression",
    "LossyImageCompressionRatio",
    "RescaleType",
    "EstimatedRadiographicMagnificationFactor",
    "DistanceSourceToDetector",
    "KVP",
)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _as_str(value: Any) -> str:
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _values(value: Any) -> list[Any]:
    """A DICOM value as a list: multi-valued stays a list, single becomes ``[value]``."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def _float_or_none(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _load(path: Path) -> Dataset:
    """Parse the file; without the 'DICM' marker, accept it only if it parses as a dataset."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        pass
    except Exception as exc:
        raise CorruptFileError(path, f"cannot parse DICOM: {_one_line(str(exc))}") from exc
    try:
        ds = pydicom.dcmread(path, force=True)
        found = any(k in ds for k in ("SOPClassUID", "Rows", "Modality", *_PIXEL_KEYWORDS))
    except Exception as exc:
        raise CorruptFileError(path, f"cannot parse DICOM: {_one_line(str(exc))}") from exc
    if not found:
        raise CorruptFileError(path, "not a DICOM file: no 'DICM' marker and no image elements")
    return ds


def _transfer_syntax(ds: Dataset) -> Any:
    """The Transfer Syntax UID; a bare dataset (no file meta) gets the one it was parsed with."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None and "TransferSyntaxUID" in file_meta:
        return file_meta.TransferSyntaxUID
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None:
        return None
    uid = (
        ImplicitVRLittleEndian
        if implicit
        else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    )
    if file_meta is None:
        ds.file_meta = file_meta = FileMetaDataset()
    file_meta.TransferSyntaxUID = uid  # a bare dataset cannot hold encapsulated pixels
    return uid


def _sop_name(ds: Dataset) -> str:
    uid = ds.get("SOPClassUID")
    if uid is None:
        return "object"
    name = getattr(uid, "name", "") or str(uid)
    return str(name)


def _decode_failure(path: Path, ts_name: str, exc: Exception) -> RadiographError:
    """Typed error for a failed decode: no decoder installed -> unsupported, else corrupt."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    plugin_lines = [ln for ln in lines[1:] if ":" in ln] or lines
    unsupported_markers = (
        "does not support",
        "missing dependencies",
        "missing required dependenc",
        "not installed",
        "no pixel data decoders",
        "no plugins",
        "is not supported",
    )
    real = [ln for ln in plugin_lines if not any(m in ln.lower() for m in unsupported_markers)]
    if plugin_lines and not real:
        reason = "; ".join(plugin_lines)
        return UnsupportedFormatError(
            path, _one_line(f"no installed decoder handles {ts_name}: {reason}")
        )
    reason = "; ".join(real) or type(exc).__name__
    return CorruptFileError(path, _one_line(f"pixel data cannot be decoded ({ts_name}): {reason}"))


def _lut_table(
    item: Dataset, *, signed: bool, little_endian: bool
) -> tuple[int, int, NDArray[Any]]:
    """(first mapped value, bits, table) from a LUT Descriptor / LUT Data pair."""
    desc = [int(v) for v in _values(item.LUTDescriptor)]
    if len(desc) != 3:
        raise ValueError(f"LUT Descriptor has {len(desc)} values, expected 3")
    n_entries = desc[0] or 65536
    first, bits = desc[1], desc[2]
    if signed and first > 32767:
        first -= 65536
    data = item.LUTData
    if isinstance(data, bytes):
        dtype = np.dtype("u1") if len(data) == n_entries else np.dtype("u2")
        dtype = dtype.newbyteorder("<" if little_endian else ">")
        table = np.frombuffer(data, dtype=dtype).astype(np.uint16)
    else:
        table = np.asarray(_values(data), dtype=np.uint16)
    if table.size < n_entries:
        raise ValueError(f"LUT Data has {table.size} entries, the descriptor says {n_entries}")
    return first, bits, table[:n_entries].copy()


def _windows(ds: Dataset) -> tuple[WindowPreset, ...]:
    centers = _values(ds.get("WindowCenter"))
    widths = _values(ds.get("WindowWidth"))
    names = _values(ds.get("WindowCenterWidthExplanation"))
    presets = []
    for i, (c_raw, w_raw) in enumerate(zip(centers, widths)):
        c, w = _float_or_none(c_raw), _float_or_none(w_raw)
        if c is None or w is None or w <= 0:
            continue  # DICOM requires width >= 1; a broken pair is skipped, not fatal
        name = str(names[i]).strip() if i < len(names) and str(names[i]).strip() else ""
        presets.append(WindowPreset(center=c, width=w, name=name or f"C {c:g} / W {w:g}"))
    return tuple(presets)


def _spacing(ds: Dataset) -> tuple[tuple[float, float] | None, SpacingSource]:
    """PixelSpacing, else ImagerPixelSpacing; zero, negative or malformed values don't count."""
    sources: tuple[SpacingSource, ...] = ("PixelSpacing", "ImagerPixelSpacing")
    for keyword in sources:
        vals = [_float_or_none(v) for v in _values(ds.get(keyword))]
        if len(vals) == 2 and all(v is not None and v > 0 for v in vals):
            return (float(vals[0] or 0), float(vals[1] or 0)), keyword
    return None, "none"


def _metadata(ds: Dataset, *, ts_uid: str, ts_name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"transfer_syntax_name": ts_name, "sop_class_name": _sop_name(ds)}
    for keyword in _METADATA_KEYWORDS:
        value = ds.get(keyword)
        if value is not None and _as_str(value).strip():
            meta[keyword] = _as_str(value).strip()
    for keyword in ("BitsAllocated", "HighBit", "PixelRepresentation", "SamplesPerPixel"):
        if keyword in ds:
            meta[keyword] = int(ds.get(keyword))
    meta["transfer_syntax"] = ts_uid
    return meta


def _guarded(path: Path, what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except RadiographError:
        raise
    except Exception as exc:
        raise CorruptFileError(path, _one_line(f"invalid {what}: {exc}")) from exc


def _check_before_decoding(path: Path, ds: Dataset, *, ts_uid: str, frames: int) -> None:
    """Refuse, from the header and the frame's own structure, what must not reach a decoder.

    The decoded size (rows x columns x frames x samples x bytes) against the cap, then, for an
    encapsulated frame, its codestream: declared geometry, truncation, damaged offsets.
    """
    want = _guarded(
        path,
        "image geometry",
        lambda: FrameGeometry(
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            samples=int(ds.get("SamplesPerPixel") or 1),
            bits_allocated=int(ds.BitsAllocated),
        ),
    )
    check_decoded_size(
        path,
        rows=want.rows,
        columns=want.columns,
        frames=max(frames, 1),
        samples=want.samples,
        bytes_per_sample=max(math.ceil(want.bits_allocated / 8), 1),
        source="DICOM header",
    )
    if "PixelData" not in ds or not _is_encapsulated(ts_uid):
        return
    from pydicom.encaps import get_frame

    with fenced(path, "reading the encapsulated frame"):
        try:
            frame = get_frame(ds.PixelData, 0, number_of_frames=1)
        except Exception as exc:
            raise CorruptFileError(
                path, _one_line(f"encapsulated pixel data is damaged: {exc}")
            ) from exc
    check_frame(path, bytes(frame), transfer_syntax=ts_uid, want=want)


def _is_encapsulated(ts_uid: str) -> bool:
    from pydicom.uid import UID

    try:
        return bool(UID(ts_uid).is_encapsulated)
    except (ValueError, AttributeError):
        return False


def read_dicom(path: Path) -> Radiograph:
    """Read one single-frame DICOM radiograph at full depth.

    Parameters
    ----------
    path
        A DICOM Part 10 file (or a bare dataset with a DICOM suffix).

    Returns
    -------
    Radiograph
        Stored pixels in their own dtype (signed per Pixel Representation), Modality LUT
        (rescale or table), VOI windows and VOI LUT, Presentation LUT Shape, pixel spacing
        with its source, transfer syntax and identifiers.

    Raises
    ------
    NotAnImageError
        The dataset has no pixel data (SR, RT plan, DICOMDIR...).
    UnsupportedFormatError
        Several frames, a colour palette, or no decoder for the transfer syntax.
    CorruptFileError
        The file or its pixel stream is truncated or defective.
    """
    ds = _load(path)
    if len(ds) == 0:
        # pydicom returns an empty dataset when EOF comes inside encapsulated pixel data
        raise CorruptFileError(path, "no DICOM data elements could be read (truncated file?)")
    if str(ds.get("SOPClassUID", "")) in DERIVED_PIXEL_CLASSES:
        raise NotAnImageError(path, f"DICOM {_sop_name(ds)} is a result, not a radiograph")
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        sop = _sop_name(ds)
        if "Rows" in ds or "Image Storage" in sop:
            raise CorruptFileError(path, f"{sop} header but no pixel data (truncated file?)")
        raise NotAnImageError(path, f"DICOM {sop} holds no pixel data")
    missing = [k for k in _REQUIRED if k not in ds]
    if missing:
        raise CorruptFileError(path, f"image attributes missing: {', '.join(missing)}")
    frames = _guarded(path, "Number of Frames", lambda: int(ds.get("NumberOfFrames") or 1))
    if frames > 1:
        raise UnsupportedFormatError(
            path, f"multi-frame DICOM ({frames} frames); only single-frame radiographs are read"
        )
    pi = str(ds.PhotometricInterpretation).strip().upper()
    if pi not in _PHOTOMETRIC:
        raise UnsupportedFormatError(path, f"photometric interpretation {pi!r} is not supported")
    meta_ts = _transfer_syntax(ds)
    ts_uid = str(meta_ts or "")
    ts_name = str(getattr(meta_ts, "name", "") or ts_uid or "unknown transfer syntax")
    rows, cols = int(ds.Rows), int(ds.Columns)
    _check_before_decoding(path, ds, ts_uid=ts_uid, frames=frames)
    with fenced(path, f"decoding {ts_name}"):
        try:
            arr = ds.pixel_array
        except Exception as exc:
            raise _decode_failure(path, ts_name, exc) from exc
    arr = np.asarray(arr)
    photometric = _PHOTOMETRIC[pi]
    meta = _metadata(ds, ts_uid=ts_uid, ts_name=ts_name)
    if photometric is None:
        if arr.ndim != 3:
            raise CorruptFileError(path, f"{pi} image decoded to shape {arr.shape}")
        arr = to_luminance(arr, order="RGB")
        meta["converted_from"] = pi
        photometric = "MONOCHROME2"
    if arr.shape != (rows, cols):
        raise CorruptFileError(
            path, f"decoded pixels have shape {arr.shape}, the header says {(rows, cols)}"
        )
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    little = bool(getattr(ds, "original_encoding", (None, True))[1] in (True, None))
    bits_stored = int(ds.get("BitsStored") or ds.BitsAllocated)
    modality_lut = _guarded(
        path, "Modality LUT Sequence", lambda: _modality_lut(ds, signed, little)
    )
    voi_lut = _guarded(path, "VOI LUT Sequence", lambda: _voi_lut(ds, signed, little))
    spacing, source = _spacing(ds)
    return Radiograph(
        path=str(path),
        format="dicom",
        stored=np.ascontiguousarray(arr),
        bits_stored=bits_stored,
        photometric=photometric,
        rescale_slope=_float_or_none(ds.get("RescaleSlope")) or 1.0,
        rescale_intercept=_float_or_none(ds.get("RescaleIntercept")) or 0.0,
        modality_lut=modality_lut,
        windows=_windows(ds),
        voi_lut=voi_lut,
        voi_lut_function=str(ds.get("VOILUTFunction") or "LINEAR").strip().upper(),
        presentation_lut_shape=str(ds.get("PresentationLUTShape") or "").strip().upper(),
        pixel_spacing=spacing,
        spacing_source=source,
        transfer_syntax=ts_uid,
        modality=str(ds.get("Modality") or "").strip(),
        metadata=meta,
    )


def _modality_lut(ds: Dataset, signed: bool, little: bool) -> ModalityLut | None:
    seq = ds.get("ModalityLUTSequence")
    if not seq:
        return None
    first, bits, table = _lut_table(seq[0], signed=signed, little_endian=little)
    return ModalityLut(first_mapped=first, bits=bits, table=table)


def _voi_lut(ds: Dataset, signed: bool, little: bool) -> VoiLut | None:
    seq = ds.get("VOILUTSequence")
    if not seq:
        return None
    item = seq[0]
    first, bits, table = _lut_table(item, signed=signed, little_endian=little)
    name = str(item.get("LUTExplanation") or "").strip()
    return VoiLut(first_mapped=first, bits=bits, table=table, name=name)
