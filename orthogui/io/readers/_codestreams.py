"""Cheap structural checks of compressed frames (JPEG, JPEG-LS, JPEG 2000, RLE) before decoding.

Decoders fill what a truncated frame lacks with grey and call it a success, or allocate what
a damaged header asks for. These walks read only marker segments and offsets: the declared
geometry (checked against the DICOM header and the size cap) and whether the stream holds
every byte its own structure promises. A frame that fails is refused with the reason.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orthogui.core.radiograph import CorruptFileError
from orthogui.io.readers._guard import check_decoded_size

__all__ = [
    "CODEC_BY_TRANSFER_SYNTAX",
    "FrameGeometry",
    "JpegLayout",
    "StreamError",
    "check_frame",
    "jpeg_dimensions",
    "parse_j2k",
    "parse_jpeg",
]


class StreamError(ValueError):
    """A compressed stream whose structure is broken; the message says where and how."""


@dataclass(frozen=True)
class FrameGeometry:
    """What the DICOM header promises one frame decodes to."""

    rows: int
    columns: int
    samples: int
    bits_allocated: int


@dataclass(frozen=True)
class JpegLayout:
    """The markers of one JPEG or JPEG-LS stream, as far as they go."""

    sof: int  # the SOFn marker's second byte (0xC3 = lossless, 0xF7 = JPEG-LS)
    precision: int
    rows: int
    columns: int
    components: int
    entropy_bytes: int  # bytes of entropy-coded data over all scans
    eoi: int  # offset of the EOI marker, -1 when the stream ends without one
    end: int  # length without trailing padding (0x00 / 0xFF)
    hierarchical: bool


# Start-of-frame markers: baseline, extended, progressive, lossless (Huffman and arithmetic).
_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_SOF_LS = 0xF7
_LOSSLESS_HUFFMAN = 0xC3  # every sample costs at least one bit of Huffman code
_STANDALONE = frozenset((0x01, *range(0xD0, 0xD8)))  # TEM, RST0-7: no length field
_SOS, _EOI, _DNL, _DHP = 0xDA, 0xD9, 0xDC, 0xDE


def _be16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "big")


def _padded_end(data: bytes) -> int:
    """Length of ``data`` without the trailing 0x00 / 0xFF padding DICOM and encoders add."""
    end = len(data)
    while end > 0 and data[end - 1] in (0x00, 0xFF):
        end -= 1
    return end


def _entropy_end(data: bytes, start: int, *, ls: bool) -> int:
    """Offset of the first marker after entropy-coded data starting at ``start`` (or the end).

    In JPEG, 0xFF in entropy data is followed by 0x00 (stuffing) or RSTn; in JPEG-LS it is
    followed by a byte below 0x80 (bit stuffing). Anything else is a marker.
    """
    arr = np.frombuffer(data, dtype=np.uint8)[start:]
    if arr.size < 2:
        return len(data)
    ff = np.flatnonzero(arr[:-1] == 0xFF)
    nxt = arr[ff + 1]
    rst = (nxt >= 0xD0) & (nxt <= 0xD7)
    data_byte = nxt < 0x80 if ls else nxt == 0x00
    marker = ~data_byte & ~rst & (nxt != 0xFF)
    hits = ff[marker]
    return start + int(hits[0]) if hits.size else len(data)


def parse_jpeg(data: bytes, *, ls: bool = False) -> JpegLayout:
    """Walk a JPEG (ITU T.81) or JPEG-LS (T.87) stream's markers without decoding it.

    Parameters
    ----------
    data
        The whole stream, from SOI.
    ls
        JPEG-LS bit stuffing rules for the entropy-coded segments.

    Returns
    -------
    JpegLayout
        The frame header, the entropy-coded byte count and where EOI is (``-1`` if missing).

    Raises
    ------
    StreamError
        No SOI, a marker segment that runs past the end, a scan before the frame header,
        or no frame header at all.
    """
    n = len(data)
    if data[:2] != b"\xff\xd8":
        raise StreamError("does not start with an SOI marker")
    sof = precision = rows = columns = components = -1
    entropy = 0
    eoi = -1
    hierarchical = False
    pos = 2
    while pos < n:
        if data[pos] != 0xFF:
            raise StreamError(f"expected a marker at byte {pos}, found 0x{data[pos]:02X}")
        while pos + 1 < n and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 1 >= n:
            break
        marker = data[pos + 1]
        at = pos
        pos += 2
        if marker == _EOI:
            eoi = at
            break
        if marker in _STANDALONE:
            continue
        if pos + 2 > n:
            break
        length = _be16(data, pos)
        if length < 2 or pos + length > n:
            raise StreamError(
                f"marker 0xFF{marker:02X} at byte {at} declares {length} bytes, "
                f"only {n - pos} remain (truncated or damaged)"
            )
        if marker in _SOF or marker == _SOF_LS:
            if length < 8:
                raise StreamError(f"frame header at byte {at} is {length} bytes long")
            sof = marker
            precision = data[pos + 2]
            rows, columns = _be16(data, pos + 3), _be16(data, pos + 5)
            components = data[pos + 7]
        elif marker == _DNL and rows == 0 and length >= 4:
            rows = _be16(data, pos + 2)
        elif marker == _DHP:
            hierarchical = True
        elif marker == _SOS:
            if sof < 0:
                raise StreamError(f"scan at byte {at} comes before any frame header")
            scan_start = pos + length
            pos = _entropy_end(data, scan_start, ls=ls)
            entropy += pos - scan_start
            continue
        pos += length
    if sof < 0:
        raise StreamError("no frame header (SOF marker) before the end of the stream")
    return JpegLayout(
        sof=sof,
        precision=precision,
        rows=rows,
        columns=columns,
        components=components,
        entropy_bytes=entropy,
        eoi=eoi,
        end=_padded_end(data),
        hierarchical=hierarchical,
    )


def jpeg_dimensions(data: bytes) -> tuple[int, int, int, int] | None:
    """(rows, columns, components, precision) from the first JPEG frame header, else ``None``.

    Lenient: it only looks for the header (plain JPEG files in the wild carry junk between
    segments that decoders tolerate); ``None`` when no header is found before the first scan.
    """
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF or marker in _STANDALONE or marker == 0xD8:
            pos += 1 if marker == 0xFF else 2
            continue
        length = _be16(data, pos + 2)
        if marker in _SOF and length >= 8 and pos + 10 <= n:
            return _be16(data, pos + 5), _be16(data, pos + 7), data[pos + 9], data[pos + 4]
        if marker in (_SOS, _EOI):
            return None
        pos += 2 + max(length, 2)
    return None


def _sample_bytes(bits: int) -> int:
    return 1 if bits <= 8 else 2 if bits <= 16 else 4


def _check_geometry(
    path: Path, source: str, *, rows: int, columns: int, samples: int, want: FrameGeometry
) -> None:
    if (rows, columns, samples) != (want.rows, want.columns, want.samples):
        raise CorruptFileError(
            path,
            f"{source} declares {rows} x {columns} pixels with {samples} component(s), "
            f"the DICOM header {want.rows} x {want.columns} with {want.samples}",
        )


def _check_size_and_geometry(
    path: Path,
    source: str,
    rows: int,
    columns: int,
    samples: int,
    bits: int,
    want: FrameGeometry,
) -> None:
    """A codestream header's size is decodable within the memory cap and matches the dataset."""
    check_decoded_size(
        path,
        rows=rows,
        columns=columns,
        samples=samples,
        bytes_per_sample=_sample_bytes(bits),
        source=source,
    )
    _check_geometry(path, source, rows=rows, columns=columns, samples=samples, want=want)


def _check_jpeg_frame(path: Path, frame: bytes, want: FrameGeometry, *, ls: bool) -> None:
    name = "JPEG-LS" if ls else "JPEG"
    try:
        layout = parse_jpeg(frame, ls=ls)
    except StreamError as exc:
        raise CorruptFileError(path, f"{name} frame is damaged: {exc}") from exc
    source = f"{name} frame header"
    if layout.rows == 0:  # the height was to come in a DNL marker, and none came
        raise CorruptFileError(path, f"{source} declares 0 rows and no DNL marker gives them")
    _check_size_and_geometry(
        path, source, layout.rows, layout.columns, layout.components, layout.precision, want
    )
    if layout.precision > max(want.bits_allocated, 8):
        raise CorruptFileError(
            path,
            f"{source} declares {layout.precision}-bit samples, "
            f"Bits Allocated is {want.bits_allocated}",
        )
    if layout.eoi < 0:
        raise CorruptFileError(
            path,
            f"{name} frame is truncated: {len(frame):,} bytes end without an EOI marker",
        )
    after = layout.end - (layout.eoi + 2)
    if after > 0:
        raise CorruptFileError(
            path,
            f"{name} frame is damaged: an EOI marker at byte {layout.eoi:,} is followed by "
            f"{after:,} more bytes of data",
        )
    if layout.sof == _LOSSLESS_HUFFMAN and not layout.hierarchical:
        needed = math.ceil(want.rows * want.columns * want.samples / 8)
        if layout.entropy_bytes < needed:
            raise CorruptFileError(
                path,
                f"{name} lossless frame is truncated: {layout.entropy_bytes:,} bytes of coded "
                f"data, at least {needed:,} needed for {want.rows} x {want.columns} pixels",
            )


def _jp2_codestream(data: bytes) -> bytes:
    """The contiguous codestream box of a JP2 file (some DICOM J2K frames carry one)."""
    pos, n = 0, len(data)
    while pos + 8 <= n:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if length == 1 and pos + 16 <= n:
            length, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif length == 0:
            length = n - pos
        if kind == b"jp2c":
            return data[pos + header : pos + length]
        if length < header:
            break
        pos += length
    raise StreamError("JP2 file without a contiguous codestream box")


@dataclass(frozen=True)
class J2kLayout:
    """The SIZ geometry of a JPEG 2000 codestream and how far its tile-parts reach."""

    rows: int
    columns: int
    components: int
    bits: int
    tiles: int


_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
_SOT, _EOC = b"\xff\x90", b"\xff\xd9"
_MAX_TILES = 65535  # Isot is 16 bits


def parse_j2k(data: bytes) -> J2kLayout:
    """Read the SIZ segment and walk every tile-part of a JPEG 2000 codestream (ISO 15444-1 A).

    Parameters
    ----------
    data
        A raw codestream (from SOC) or a JP2 file.

    Returns
    -------
    J2kLayout
        Image size, components, the largest component precision and the tile count.

    Raises
    ------
    StreamError
        Bad SIZ values, more than 65,535 tiles, a tile-part whose declared length runs past
        the end of the stream, a missing tile, or bytes left over with no EOC.
    """
    if data[4:8] == b"jP  ":
        data = _jp2_codestream(data)
    if data[:4] != _J2K_SOC_SIZ:
        raise StreamError("does not start with SOC and SIZ markers")
    if len(data) < 42:
        raise StreamError(f"SIZ segment cut short: the stream has {len(data)} bytes")
    lsiz = _be16(data, 4)
    xsiz, ysiz, xo, yo, xt, yt, xto, yto = struct.unpack(">8I", data[8:40])
    csiz = _be16(data, 40)
    if not 1 <= csiz <= 16384 or lsiz != 38 + 3 * csiz or len(data) < 4 + lsiz:
        raise StreamError(f"SIZ segment is inconsistent (Lsiz {lsiz}, Csiz {csiz})")
    if not (xsiz > xo and ysiz > yo and xt > 0 and yt > 0 and xto <= xo and yto <= yo):
        raise StreamError(f"SIZ declares an empty or inconsistent image grid ({xsiz} x {ysiz})")
    if xto + xt <= xo or yto + yt <= yo:
        raise StreamError("SIZ: the first tile does not overlap the image")
    comps = [data[42 + 3 * i : 45 + 3 * i] for i in range(csiz)]
    if any(c[1] == 0 or c[2] == 0 for c in comps):
        raise StreamError("SIZ: a component has a zero sub-sampling factor")
    bits = max((c[0] & 0x7F) + 1 for c in comps)
    if bits > 38:
        raise StreamError(f"SIZ: {bits}-bit components")
    tiles = math.ceil((xsiz - xto) / xt) * math.ceil((ysiz - yto) / yt)
    if tiles > _MAX_TILES:
        raise StreamError(f"SIZ declares {tiles:,} tiles, more than the 65,535 allowed")
    _walk_tile_parts(data, 4 + lsiz, tiles)
    return J2kLayout(rows=ysiz - yo, columns=xsiz - xo, components=csiz, bits=bits, tiles=tiles)


def _walk_tile_parts(data: bytes, pos: int, tiles: int) -> None:
    """Follow the main-header segments from ``pos``, then every tile-part by its Psot."""
    n = len(data)
    while pos + 4 <= n and data[pos : pos + 2] != _SOT:  # main-header marker segments
        if data[pos] != 0xFF:
            raise StreamError(f"expected a main-header marker at byte {pos}")
        pos += 2 + _be16(data, pos + 2)
    seen: set[int] = set()
    end = _padded_end(data)
    while True:
        if pos + 12 > n or data[pos : pos + 2] != _SOT:
            if data[pos : pos + 2] == _EOC:
                break
            if pos >= end:
                break  # no EOC, but every declared byte is there
            raise StreamError(f"no tile-part (SOT) or EOC marker at byte {pos:,}")
        isot = _be16(data, pos + 4)
        psot = int.from_bytes(data[pos + 6 : pos + 10], "big")
        if isot >= tiles:
            raise StreamError(f"tile-part at byte {pos:,} names tile {isot} of {tiles}")
        seen.add(isot)
        if psot == 0:  # the last tile-part: it runs to EOC
            break
        if psot < 14 or pos + psot > n:
            raise StreamError(
                f"tile-part at byte {pos:,} declares {psot:,} bytes, {n - pos:,} remain (truncated)"
            )
        pos += psot
    if len(seen) < tiles:
        raise StreamError(
            f"{tiles - len(seen)} of {tiles} tiles have no tile-part (truncated or damaged)"
        )


def _check_j2k_frame(path: Path, frame: bytes, want: FrameGeometry) -> None:
    try:
        layout = parse_j2k(frame)
    except StreamError as exc:
        raise CorruptFileError(path, f"JPEG 2000 frame is damaged: {exc}") from exc
    source = "JPEG 2000 SIZ segment"
    _check_size_and_geometry(
        path, source, layout.rows, layout.columns, layout.components, layout.bits, want
    )


def _check_rle_frame(path: Path, frame: bytes, want: FrameGeometry) -> None:
    """DICOM RLE (PS3.5 G): a 64-byte header of segment offsets, one PackBits segment per byte plane.

    PackBits codes at most 128 bytes with 2, so each segment needs at least
    ``2 * ceil(rows * columns / 128)`` bytes: a cheap bound that also caps the expansion.
    """
    if len(frame) < 64:
        raise CorruptFileError(path, f"RLE frame of {len(frame)} bytes has no 64-byte header")
    n_seg, *offsets = struct.unpack("<16I", frame[:64])
    expected = want.samples * math.ceil(want.bits_allocated / 8)
    if n_seg != expected or n_seg > 15:
        raise CorruptFileError(
            path,
            f"RLE header lists {n_seg} segments, {expected} expected for {want.samples} "
            f"sample(s) of {want.bits_allocated} bits",
        )
    bounds = [*offsets[:n_seg], len(frame)]
    if bounds[0] != 64:
        raise CorruptFileError(path, f"RLE segment 1 starts at byte {bounds[0]}, not 64")
    minimum = 2 * math.ceil(want.rows * want.columns / 128)
    for i in range(n_seg):
        start, stop = bounds[i], bounds[i + 1]
        if stop <= start or stop > len(frame):
            raise CorruptFileError(
                path,
                f"RLE segment {i + 1} offset {start:,} lies beyond the next segment or the "
                f"{len(frame):,}-byte frame",
            )
        if stop - start < minimum:
            raise CorruptFileError(
                path,
                f"RLE segment {i + 1} holds {stop - start:,} bytes, fewer than the {minimum:,} "
                f"any {want.rows} x {want.columns} plane needs (truncated)",
            )


def _jpeg(path: Path, frame: bytes, want: FrameGeometry) -> None:
    _check_jpeg_frame(path, frame, want, ls=False)


def _jpeg_ls(path: Path, frame: bytes, want: FrameGeometry) -> None:
    _check_jpeg_frame(path, frame, want, ls=True)


FrameCheck = Callable[[Path, bytes, FrameGeometry], None]

# Compressed transfer syntaxes -> the check of one frame, as data.
CODEC_BY_TRANSFER_SYNTAX: dict[str, FrameCheck] = {
    "1.2.840.10008.1.2.4.50": _jpeg,  # baseline
    "1.2.840.10008.1.2.4.51": _jpeg,  # extended (12 bit)
    "1.2.840.10008.1.2.4.57": _jpeg,  # lossless
    "1.2.840.10008.1.2.4.70": _jpeg,  # lossless, first-order prediction
    "1.2.840.10008.1.2.4.80": _jpeg_ls,
    "1.2.840.10008.1.2.4.81": _jpeg_ls,
    "1.2.840.10008.1.2.4.90": _check_j2k_frame,
    "1.2.840.10008.1.2.4.91": _check_j2k_frame,
    "1.2.840.10008.1.2.4.201": _check_j2k_frame,  # HTJ2K
    "1.2.840.10008.1.2.4.202": _check_j2k_frame,
    "1.2.840.10008.1.2.4.203": _check_j2k_frame,
    "1.2.840.10008.1.2.5": _check_rle_frame,
}


def check_frame(path: Path, frame: bytes, *, transfer_syntax: str, want: FrameGeometry) -> None:
    """Check one compressed frame's structure against its transfer syntax and the DICOM header.

    Parameters
    ----------
    path
        The file, named in errors.
    frame
        The frame's bytes (all its fragments joined).
    transfer_syntax
        The Transfer Syntax UID; syntaxes without a check pass unchecked.
    want
        Rows, columns, samples and Bits Allocated from the DICOM header.

    Raises
    ------
    CorruptFileError
        A truncated or damaged frame, or one whose own header disagrees with the DICOM header
        or exceeds the decoded-size cap.
    """
    check = CODEC_BY_TRANSFER_SYNTAX.get(transfer_syntax)
    if check is not None:
        check(path, frame, want)
