"""``orthogui info PATH [--json]``: what the reader sees in a radiograph, and a hash of its pixels."""

from __future__ import annotations

import argparse
import json
from typing import Any

from orthogui.core.radiograph import Radiograph

COMMAND = "info"
HELP = "Print a radiograph's size, depth, photometric, spacing, windows and pixel hash."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``PATH`` and ``--json``."""
    parser.add_argument("path", metavar="PATH", help="DICOM, PNG, JPEG or TIFF file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def describe_radiograph(rg: Radiograph) -> dict[str, Any]:
    """The fields ``info`` reports, as JSON-ready values.

    Parameters
    ----------
    rg
        A radiograph as a reader returned it.

    Returns
    -------
    dict
        Warnings (e.g. ``"damaged: 72 rows missing ..."``), geometry, depth, LUT parameters,
        spacing, window presets, stored min/max and ``pixel_sha256`` (SHA-256 of the stored
        array, C order, little-endian, own dtype).
    """
    from orthogui.io.readers import pixel_sha256

    stored = rg.stored
    return {
        "warnings": list(rg.warnings),
        "path": rg.path,
        "format": rg.format,
        "rows": rg.rows,
        "columns": rg.columns,
        "dtype": str(stored.dtype),
        "bits_stored": rg.bits_stored,
        "photometric_interpretation": rg.photometric,
        "transfer_syntax": rg.transfer_syntax,
        "transfer_syntax_name": rg.metadata.get("transfer_syntax_name", ""),
        "modality": rg.modality,
        "pixel_spacing": list(rg.pixel_spacing) if rg.pixel_spacing else None,
        "pixel_spacing_source": rg.spacing_source,
        "rescale_slope": rg.rescale_slope,
        "rescale_intercept": rg.rescale_intercept,
        "modality_lut": rg.modality_lut is not None,
        "windows": [{"center": w.center, "width": w.width, "name": w.name} for w in rg.windows],
        "voi_lut": _voi_lut(rg),
        "voi_lut_function": rg.voi_lut_function,
        "presentation_lut_shape": rg.presentation_lut_shape,
        "min": stored.min().item(),
        "max": stored.max().item(),
        "pixel_sha256": pixel_sha256(stored),
        "metadata": {k: v for k, v in rg.metadata.items() if isinstance(v, (str, int, float))},
    }


def _voi_lut(rg: Radiograph) -> dict[str, Any] | None:
    lut = rg.voi_lut
    if lut is None:
        return None
    return {"name": lut.name, "entries": len(lut.table), "first_mapped": lut.first_mapped}


def _text(fields: dict[str, Any]) -> str:
    lines = []
    for key, value in fields.items():
        if key == "metadata":
            lines.append("metadata:")
            lines.extend(f"  {k}: {v}" for k, v in value.items())
        elif key == "warnings":
            lines.extend(f"WARNING: {w}" for w in value)
        elif key == "windows":
            shown = ", ".join(f"{w['name']} ({w['center']:g}/{w['width']:g})" for w in value)
            lines.append(f"{key}: {shown or '-'}")
        else:
            lines.append(f"{key}: {value}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Read ``args.path`` and print its description; reader errors propagate as one line."""
    from orthogui.io.readers import read_radiograph

    fields = describe_radiograph(read_radiograph(args.path))
    print(json.dumps(fields, indent=2, ensure_ascii=False) if args.json else _text(fields))
    return 0
