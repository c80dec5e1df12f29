"""Write a greyscale radiograph array as a DX DICOM file in a chosen transfer syntax.

Deterministic for a given ``uid_seed``: UIDs are derived from it and dates are fixed, so the
same input gives the same bytes. Patient data is always marked synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import Photometric, WindowPreset

TransferSyntaxName = Literal["explicit", "rle", "j2k"]

# Name -> (transfer syntax UID, encoding plugin); pydicom encodes RLE natively, J2K via pylibjpeg.
TRANSFER_SYNTAXES: dict[str, tuple[str, str]] = {
    "explicit": ("1.2.840.10008.1.2.1", ""),
    "rle": ("1.2.840.10008.1.2.5", "pydicom"),
    "j2k": ("1.2.840.10008.1.2.4.90", "pylibjpeg"),
}
_DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
_FIXED_DATE = "20240101"
_FIXED_TIME = "120000"


@dataclass(frozen=True)
class DicomImageInfo:
    """What the writer needs beside the pixels."""

    bits_stored: int
    pixel_spacing_mm: float
    windows: tuple[WindowPreset, ...] = ()
    photometric: Photometric = "MONOCHROME2"
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    body_part: str = ""
    view_position: str = ""
    laterality: str = ""
    description: str = "Synthetic phantom radiograph"


def write_dicom(
    path: str | Path,
    stored: NDArray[np.uint16],
    info: DicomImageInfo,
    *,
    transfer_syntax: TransferSyntaxName = "explicit",
    uid_seed: str,
) -> Path:
    """Write ``stored`` (2-D ``uint16``) as a DX For Presentation image.

    Parameters
    ----------
    path
        Output file.
    stored
        Stored pixel values, all below ``2 ** info.bits_stored``.
    info
        Bits, spacing, windows and the tags describing the acquisition.
    transfer_syntax
        ``"explicit"`` (Explicit VR Little Endian), ``"rle"`` (RLE Lossless) or ``"j2k"``
        (JPEG 2000 lossless).
    uid_seed
        Entropy for the Study, Series and SOP Instance UIDs (same seed, same UIDs).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(
            f"unknown transfer syntax {transfer_syntax!r}; known: {list(TRANSFER_SYNTAXES)}"
        )
    arr = np.ascontiguousarray(stored)
    if arr.ndim != 2 or arr.dtype != np.uint16:
        raise ValueError(f"stored must be a 2-D uint16 array, got {arr.dtype} {arr.shape}")
    if not 8 <= info.bits_stored <= 16:
        raise ValueError(f"bits_stored must be 8..16, got {info.bits_stored}")
    if arr.size and int(arr.max()) >= 1 << info.bits_stored:
        raise ValueError(f"pixel values exceed bits_stored={info.bits_stored}")

    def uid(kind: str) -> str:
        return str(generate_uid(entropy_srcs=[uid_seed, kind]))

    sop_uid = UID(uid("sop"))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(_DX_FOR_PRESENTATION)
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = _DX_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = uid("study")
    ds.SeriesInstanceUID = uid("series")
    ds.FrameOfReferenceUID = uid("frame")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = _FIXED_DATE
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = _FIXED_TIME
    ds.Modality = "DX"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = "OrthoGUI synthetic phantom"
    ds.PatientName = "SYNTHETIC^PHANTOM"
    ds.PatientID = "SYNTH-" + uid_seed[-16:]
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.PatientIdentityRemoved = "YES"
    ds.BurnedInAnnotation = "NO"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.StudyDescription = ds.SeriesDescription = info.description
    ds.BodyPartExamined = info.body_part
    ds.ViewPosition = info.view_position
    ds.ImageLaterality = info.laterality
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = info.photometric
    ds.Rows, ds.Columns = (int(v) for v in arr.shape)
    ds.BitsAllocated = 16
    ds.BitsStored = info.bits_stored
    ds.HighBit = info.bits_stored - 1
    ds.PixelRepresentation = 0
    spacing = f"{info.pixel_spacing_mm:.6g}"
    ds.ImagerPixelSpacing = [spacing, spacing]
    ds.PixelSpacing = [spacing, spacing]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.RescaleSlope = f"{info.rescale_slope:.6g}"
    ds.RescaleIntercept = f"{info.rescale_intercept:.6g}"
    ds.RescaleType = "US"
    if info.windows:
        ds.WindowCenter = [f"{w.center:.6g}" for w in info.windows]
        ds.WindowWidth = [f"{w.width:.6g}" for w in info.windows]
        ds.WindowCenterWidthExplanation = [
            w.name or f"window {i}" for i, w in enumerate(info.windows)
        ]
        ds.VOILUTFunction = "LINEAR"
    ds.PresentationLUTShape = "IDENTITY" if info.photometric == "MONOCHROME2" else "INVERSE"
    ds.PixelData = arr.astype("<u2").tobytes()
    uid_ts, plugin = TRANSFER_SYNTAXES[transfer_syntax]
    if uid_ts != ExplicitVRLittleEndian:
        ds.compress(uid_ts, arr, encoding_plugin=plugin, generate_instance_uid=False)
    out = Path(path)
    ds.save_as(out, enforce_file_format=True)
    return out
