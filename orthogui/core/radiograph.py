"""The ``Radiograph`` value every reader (``orthogui.io``) returns, and the typed read errors.

Pixels are kept exactly as stored (full bit depth); the LUT parameters travel beside them so
that analysis, the model and the display each apply what they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from orthogui.core.errors import PathError

Photometric = Literal["MONOCHROME1", "MONOCHROME2"]

DAMAGED_KEY = "damaged"
"""``Radiograph.metadata`` key a reader sets when it shows a partly damaged image, e.g.
``"72 rows missing (...)"``; ``Radiograph.warnings`` reports it."""
SpacingSource = Literal["PixelSpacing", "ImagerPixelSpacing", "none"]


class RadiographError(PathError):
    """A file could not be read as a radiograph. ``str()`` names the file and the reason."""


class UnsupportedFormatError(RadiographError):
    """No reader recognises the file (magic bytes and suffix)."""


class CorruptFileError(RadiographError):
    """The file is truncated, defective or empty."""


class NotAnImageError(RadiographError):
    """A valid file that holds no displayable radiograph (e.g. a DICOM SR or RT plan)."""


@dataclass(frozen=True)
class WindowPreset:
    """A VOI window: centre and width in modality-LUT output units (DICOM C.11.2.1.2)."""

    center: float
    width: float
    name: str = ""


@dataclass(frozen=True)
class VoiLut:
    """A VOI LUT table (DICOM VOI LUT Sequence item)."""

    first_mapped: int
    bits: int
    table: NDArray[np.integer[Any]]
    name: str = ""


@dataclass(frozen=True)
class ModalityLut:
    """A Modality LUT table (DICOM Modality LUT Sequence), used instead of rescale when present."""

    first_mapped: int
    bits: int
    table: NDArray[np.integer[Any]]


@dataclass(frozen=True, eq=False)
class Radiograph:
    """One greyscale projection radiograph at full bit depth.

    ``stored`` is the decoded stored pixel array, shape ``(rows, cols)``, in its own dtype
    (uint8, uint16, int16, float32...). RGB sources are converted to luminance on reading and
    say so in ``metadata['converted_from']``.
    """

    path: str
    format: str  # "dicom" | "png" | "jpeg" | "tiff"
    stored: NDArray[Any]
    bits_stored: int
    photometric: Photometric = "MONOCHROME2"
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    modality_lut: ModalityLut | None = None
    windows: tuple[WindowPreset, ...] = ()
    voi_lut: VoiLut | None = None
    voi_lut_function: str = "LINEAR"  # LINEAR | LINEAR_EXACT | SIGMOID
    presentation_lut_shape: str = ""  # "" | IDENTITY | INVERSE
    pixel_spacing: tuple[float, float] | None = None  # (row, column) in mm
    spacing_source: SpacingSource = "none"
    transfer_syntax: str = ""  # DICOM UID, "" for plain images
    modality: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.stored.shape[0])

    @property
    def columns(self) -> int:
        return int(self.stored.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.columns)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a reviewer must be told before reading this image, e.g. ``"damaged: ..."``."""
        damaged = self.metadata.get(DAMAGED_KEY)
        return (f"damaged: {damaged}",) if damaged else ()
