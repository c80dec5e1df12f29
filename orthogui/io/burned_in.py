"""Burned-in text: find the words a console or a film scanner printed into a radiograph's pixels.

Two detectors on the 8-bit display rendering: Tesseract OCR (the ``tesseract`` program, run on
the image and on its inverse so that white-on-black and black-on-white text are both read), and
an OCR-free one that finds lines of character-like shapes (OpenCV), which works without
Tesseract and catches text it did not read; it also looks at the pixels stored at the code that
shows brightest, where consoles print and a default window may hide it. A lone laterality
marker (L, R, LT, RT) is no identifier: ``TextRegion.laterality`` says so, and masks leave it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from orthogui.core.radiograph import Radiograph

MAX_SIDE = 2048
"""Images are shrunk to this longer side before detection (console text stays ~15 px and up)."""
OCR_TIMEOUT_S = 60.0
"""Per call of ``tesseract``; a run past it raises ``OcrFailed``."""
LATERALITY = frozenset({"L", "R", "LT", "RT"})
"""Texts that are only a side marker: never masked."""
OCR_CANDIDATE = 50.0
"""Tesseract confidence (0-100) of a word read in the whole image to be looked at again."""
MIN_CONFIDENCE = 70.0
"""Confidence of that word read again on its own, for it to count without the shapes."""

Source = Literal["ocr", "shapes"]

INK_LEVEL = 200
"""Grey level (0-255, of the rendering or its inverse) that text the shapes find is inked at:
consoles print at the extremes of the range, bone texture and edges rarely reach them."""

_MIN_CHAR_PX = 6  # smallest character height read by OCR, in the working image
_MIN_SHAPE_PX = 8  # smallest found by its shape: texture makes smaller lines by chance
_MIN_WORD_PX = 10  # smallest in a line of one or two glyphs
_ALNUM = re.compile(r"[0-9A-Za-z]")


class BurnedInText(StrEnum):
    """What a snapshot does with text found in an image's pixels."""

    MASK = "mask"  # black out each region found (with a margin); side markers stay
    HOLD_OUT = "hold_out"  # leave the image out, with the reason in the manifest
    OFF = "off"  # no search (images whose header says BurnedInAnnotation YES still held out)


class OcrFailed(RuntimeError):
    """``tesseract`` crashed, timed out or wrote what cannot be parsed; ``str()`` says which."""


@dataclass(frozen=True)
class TextRegion:
    """A line of burned-in text: its box in image pixels, what was read, and how sure.

    ``text`` is empty where the shapes say text and OCR read nothing; ``confidence`` is
    Tesseract's mean word confidence (0-100), 0 for such a region.
    """

    x: int
    y: int
    width: int
    height: int
    text: str = ""
    confidence: float = 0.0
    source: Source = "ocr"

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)``, the end exclusive."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    @property
    def laterality(self) -> bool:
        """The text read is only a side marker (``L``, ``R``, ``LT``, ``RT``), in a box no
        wider than two letters: a long line misread as ``L`` is still a line of text."""
        return is_laterality(self.text) and self.width <= 3 * self.height


def is_laterality(text: str) -> bool:
    """Whether ``text`` (punctuation and case aside) is only a side marker: L, R, LT or RT."""
    words = re.sub(r"[^0-9A-Za-z]+", " ", text).split()
    return len(words) == 1 and words[0].upper() in LATERALITY


# -- the tesseract program ----------------------------------------------------------------------
@cache
def tesseract_path() -> str | None:
    """The ``tesseract`` program with English data, or None (then only the shapes are used)."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    try:
        langs = subprocess.run(
            [exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if "eng" in langs.stdout.split() else None


@cache
def tesseract_version() -> str:
    """``tesseract 5.3.0`` or the like; empty when it is missing."""
    exe = tesseract_path()
    if exe is None:
        return ""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else ""


def detector_name() -> str:
    """What finds burned-in text here, for a snapshot's manifest."""
    version = tesseract_version()
    shapes = "character shapes (OpenCV)"
    return f"{version} OCR and {shapes}" if version else f"{shapes}; Tesseract not installed"


@dataclass(frozen=True)
class _Word:
    x: int
    y: int
    w: int
    h: int
    text: str
    conf: float
    line: tuple[int, int, int, int]  # tesseract's page, block, paragraph, line


def _tesseract(gray: NDArray[np.uint8], *, psm: int, timeout_s: float) -> list[_Word]:
    """The words tesseract reads in one 8-bit image (TSV output, page segmentation ``psm``)."""
    import cv2

    exe = tesseract_path()
    if exe is None:
        raise OcrFailed("tesseract with English data is not installed")
    ok, pgm = cv2.imencode(".pgm", gray)  # uncompressed: nothing to spend time on
    if not ok:
        raise OcrFailed("the image could not be encoded for tesseract")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")  # one core each: exports run two at a time
    cmd = [exe, "stdin", "stdout", "-l", "eng", "--psm", str(psm)]
    cmd += ["-c", "tessedit_do_invert=0", "tsv"]  # the inverse is read as an image of its own
    try:
        run = subprocess.run(
            cmd, input=pgm.tobytes(), capture_output=True, timeout=timeout_s, env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"tesseract ran past {timeout_s:g} s") from exc
    except OSError as exc:
        raise OcrFailed(f"tesseract could not be started: {exc}") from exc
    if run.returncode != 0:
        err = run.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrFailed(f"tesseract failed ({run.returncode}): {err[-1] if err else 'no message'}")
    return _parse_tsv(run.stdout.decode("utf-8", "replace"))


def _parse_tsv(tsv: str) -> list[_Word]:
    rows = tsv.splitlines()
    if not rows or not rows[0].startswith("level"):
        raise OcrFailed("tesseract wrote no TSV table")
    words = []
    for row in rows[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            page, block, par, line = (int(c) for c in cols[1:5])
            x, y, w, h = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError as exc:
            raise OcrFailed(f"tesseract wrote an unreadable row: {row!r}") from exc
        words.append(_Word(x, y, w, h, cols[11].strip(), conf, (page, block, par, line)))
    return words


# -- working image ------------------------------------------------------------------------------
def display_image(image: Radiograph | NDArray[Any]) -> NDArray[np.uint8]:
    """The 8-bit picture text is looked for in: a radiograph's default display rendering
    (``orthogui.io.display.render``), or a given 8-bit image as it is."""
    if isinstance(image, Radiograph):
        from orthogui.io.display import render

        return render(image)
    arr = np.asarray(image)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f"need a 2-D uint8 image or a Radiograph, got {arr.dtype} {arr.shape}")
    return arr


def extreme_map(rg: Radiograph) -> NDArray[np.uint8] | None:
    """The pixels at the stored code that displays brightest, white on black, or None.

    Consoles burn text in at that extreme; a default window can show it no brighter than the
    anatomy beside it (both white), yet a narrower window shows it. None where the extreme
    covers a fifth of the image or more (a white background) or nothing stands out.
    """
    from orthogui.io.display import inverted

    stored = rg.stored
    lo, hi = float(stored.min()), float(stored.max())
    if hi - lo <= 0:
        return None
    tol = (hi - lo) * 0.002
    sel = stored <= lo + tol if inverted(rg) else stored >= hi - tol
    if not 0.0 < float(np.mean(sel[::4, ::4])) < 0.2:
        return None
    return sel.astype(np.uint8) * np.uint8(255)


def _working(gray: NDArray[np.uint8], max_side: int) -> tuple[NDArray[np.uint8], float]:
    """The image shrunk to ``max_side`` (area averaging) and the factor back to image pixels."""
    import cv2

    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return np.ascontiguousarray(gray), 1.0
    size = (max(round(w * scale), 1), max(round(h * scale), 1))
    small = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return small, 1.0 / scale


# -- the OCR-free detector ----------------------------------------------------------------------
@dataclass(frozen=True)
class _Glyph:
    x: int
    y: int
    w: int
    h: int
    level: float  # the ink's grey level (90th percentile)
    flat: float  # share of the ink within 8 grey levels of it
    runs: float  # strokes crossed along a row, on average

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _glyphs(
    gray: NDArray[np.uint8], *, bright: bool, max_h: int, bold: bool = False
) -> list[_Glyph]:
    """Character-like components of one polarity: strokes standing out from their
    surroundings (top-hat), of text size, neither solid blobs nor bars; letters that touch
    (bold console fonts) make one wide glyph with many strokes across."""
    import cv2

    img = gray if bright else 255 - gray
    stroke = max(5, max_h // 4) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (stroke, stroke))
    hat = cv2.morphologyEx(img, cv2.MORPH_TOPHAT, kernel)
    # strong contrast, or saturated ink (consoles print at the top value) on a light ground
    ink = (((hat >= 70) & (img >= 110)) | ((hat >= 30) & (img >= 250))).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    w_all, h_all, area_all = stats[:, 2], stats[:, 3], stats[:, 4]
    fill_all = area_all / np.maximum(w_all * h_all, 1)
    x_all, y_all = stats[:, 0], stats[:, 1]
    rows, cols = gray.shape
    candidates = np.flatnonzero(
        (x_all > 0)  # cut by the image's edge: film borders, not text (OCR reads what is)
        & (y_all > 0)
        & (x_all + w_all < cols)
        & (y_all + h_all < rows)
        & (h_all >= _MIN_CHAR_PX)
        & (h_all <= max_h)
        & (w_all <= 8 * h_all)
        & (fill_all >= 0.12)
        & ~((fill_all > 0.92) & (w_all > 0.6 * h_all))  # a solid blob, a marker's box
    )
    out: list[_Glyph] = []
    dist = cv2.distanceTransform(ink, cv2.DIST_L2, 3) if candidates.size else None
    for i in candidates:
        if i == 0:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        own = labels[y : y + h, x : x + w] == i
        assert dist is not None
        thick = 2.0 * float(dist[y : y + h, x : x + w][own].max())
        # touching letters thicken where they touch: wide glyphs answer to their strokes
        if thick > max((0.95 if w > 1.5 * h else 0.75) * h, 2.5):
            continue
        mid = own[h // 4 : h - h // 4 or None]
        runs = float(
            np.mean(np.count_nonzero(np.diff(mid.astype(np.int8), axis=1) == 1, axis=1) + mid[:, 0])
        )
        if w > 1.5 * h and runs < (1.5 if bold else max(1.8, 0.7 * w / h)):
            continue  # wide but few strokes across: a bar, an edge, a wire
        values = img[y : y + h, x : x + w][own]
        level = float(np.percentile(values, 90))
        flat = float(np.mean(values >= level - 8))
        out.append(_Glyph(x, y, w, h, level, flat, runs))
    return out


def _lines(glyphs: Sequence[_Glyph]) -> list[list[_Glyph]]:
    """Glyphs chained left to right into lines: similar height, one baseline, close gaps."""
    order = sorted(glyphs, key=lambda g: g.x)
    used = [False] * len(order)
    lines = []
    for k, first in enumerate(order):
        if used[k]:
            continue
        used[k] = True
        line = [first]
        for j in range(k + 1, len(order)):
            g, last = order[j], line[-1]
            gap = g.x - (last.x + last.w)
            if gap > 1.8 * last.h:  # sorted by x: no later glyph is near enough either
                break
            h = max(g.h, last.h)
            if (
                not used[j]
                and -0.2 * h <= gap <= 1.2 * h
                and abs(g.cy - last.cy) <= 0.25 * h
                and abs((g.y + g.h) - (last.y + last.h)) <= 0.3 * h
                and h <= 1.5 * min(g.h, last.h)
            ):
                used[j] = True
                line.append(g)
        lines.append(line)
    return lines


def _is_text_line(line: Sequence[_Glyph]) -> bool:
    """Three glyphs or more, or two making a wide word, of one height on one baseline, inked
    in one flat grey (a console prints with one value; bone texture and edges vary)."""
    if min(g.level for g in line) < INK_LEVEL or min(g.h for g in line) < _MIN_SHAPE_PX:
        return False
    if len(line) < 3 and min(g.h for g in line) < _MIN_WORD_PX:
        return False
    if len(line) == 1:  # touching letters: one wide glyph of many strokes, in one grey
        g = line[0]
        return g.w >= 1.6 * g.h and g.runs >= 3 and g.flat >= 0.8 and g.level >= 235
    heights = np.array([g.h for g in line], dtype=np.float64)
    h = float(np.median(heights))
    bottoms = np.array([g.y + g.h for g in line], dtype=np.float64)
    levels = np.array([g.level for g in line], dtype=np.float64)
    if float(np.mean(np.abs(bottoms - np.median(bottoms)) <= 0.15 * h)) < 0.7:
        return False
    if float(levels.max() - levels.min()) > 20 or min(g.flat for g in line) < 0.5:
        return False
    width = line[-1].x + line[-1].w - line[0].x
    if len(line) == 2:  # two glyphs: alike as capitals are, side by side
        a, b = line
        return (
            width >= 1.6 * h
            and all(g.w >= 0.3 * h for g in line)
            and max(a.h, b.h) <= 1.15 * min(a.h, b.h)
            and abs(a.y - b.y) <= 0.12 * h
            and abs(a.level - b.level) <= 10
        )
    return float(heights.std()) <= 0.25 * h


def find_text_shapes(
    image: Radiograph | NDArray[Any], *, max_side: int = MAX_SIDE
) -> list[TextRegion]:
    """Lines of text-like shapes, without OCR: bright and dark characters alike.

    Parameters
    ----------
    image
        A radiograph (its default display rendering is searched) or an 8-bit image.
    max_side
        The image is shrunk to this longer side first.

    Returns
    -------
    list of TextRegion
        ``source="shapes"``, empty text, boxes in image pixels, top to bottom.
    """
    gray, back = _working(display_image(image), max_side)
    return _in_image(_shape_regions(gray), back)


def _shape_regions(gray: NDArray[np.uint8], *, ink_map: bool = False) -> list[TextRegion]:
    """Text lines of both polarities, in working-image pixels, overlapping ones merged."""
    return _merge(r for r, _ in _shape_lines(gray, ink_map=ink_map))


def _shape_lines(gray: NDArray[np.uint8], *, ink_map: bool = False) -> list[tuple[TextRegion, int]]:
    """Text lines and how many glyphs each has; in an ink map (white on black, no texture),
    bright ones only and letters run together as bold as they come."""
    max_h = max(int(0.08 * min(gray.shape)), 3 * _MIN_CHAR_PX)
    out = []
    for bright in (True,) if ink_map else (True, False):
        for line in _lines(_glyphs(gray, bright=bright, max_h=max_h, bold=ink_map)):
            if _is_text_line(line):
                x0 = min(g.x for g in line)
                y0 = min(g.y for g in line)
                x1 = max(g.x + g.w for g in line)
                y1 = max(g.y + g.h for g in line)
                out.append((TextRegion(x0, y0, x1 - x0, y1 - y0, source="shapes"), len(line)))
    return out


# -- both detectors together --------------------------------------------------------------------
def _in_image(regions: Iterable[TextRegion], back: float) -> list[TextRegion]:
    """Working-image regions in image pixels (outward rounded), top to bottom."""
    out = []
    for r in regions:
        x0, y0 = int(np.floor(r.x * back)), int(np.floor(r.y * back))
        x1, y1 = int(np.ceil(r.box[2] * back)), int(np.ceil(r.box[3] * back))
        out.append(replace(r, x=x0, y=y0, width=max(x1 - x0, 1), height=max(y1 - y0, 1)))
    return sorted(out, key=lambda r: (r.y, r.x))


def _overlap(a: TextRegion, b: TextRegion, *, pad: float = 0.0) -> bool:
    ax0, ay0, ax1, ay1 = a.box
    bx0, by0, bx1, by1 = b.box
    p = pad * min(a.height, b.height)
    return ax0 - p < bx1 and bx0 - p < ax1 and ay0 < by1 and by0 < ay1


def _union(a: TextRegion, b: TextRegion) -> TextRegion:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.box[2], b.box[2]), max(a.box[3], b.box[3])
    first, second = (a, b) if (a.x, a.y) <= (b.x, b.y) else (b, a)
    texts = [r.text for r in (first, second) if r.text]
    confs = [r.confidence for r in (a, b) if r.text]
    source: Source = "ocr" if "ocr" in (a.source, b.source) else "shapes"
    conf = float(np.mean(confs)) if confs else 0.0
    return TextRegion(x0, y0, x1 - x0, y1 - y0, " ".join(texts), conf, source)


def _merge(regions: Iterable[TextRegion], *, pad: float = 0.0) -> list[TextRegion]:
    """Overlapping regions (closer than ``pad`` line heights side by side) as one."""
    out: list[TextRegion] = []
    for r in sorted(regions, key=lambda r: (r.x, r.y)):
        merged = True
        while merged:
            merged = False
            for k, o in enumerate(out):
                if _overlap(o, r, pad=pad):
                    r = _union(o, r)
                    del out[k]
                    merged = True
                    break
        out.append(r)
    return out


def _in_corner(region: TextRegion, shape: tuple[int, int]) -> bool:
    """Whether a region lies in a corner of the image (a fifth of each side), where consoles
    print: there a short line of text-like shapes counts without OCR reading it."""
    rows, cols = shape
    cx, cy = region.x + region.width / 2, region.y + region.height / 2
    return min(cx, cols - cx) < 0.2 * cols and min(cy, rows - cy) < 0.2 * rows


def _alnum(text: str) -> int:
    return len(_ALNUM.findall(text))


def _ocr_lines(gray: NDArray[np.uint8], *, timeout_s: float) -> list[TextRegion]:
    """Lines of the words tesseract reads in the image and in its inverse (working pixels):
    words of two letters or more, or a lone side marker. One call reads both, stacked."""
    rows, cols = gray.shape
    gap = 32
    page = np.full((2 * rows + gap, cols), 128, dtype=np.uint8)
    page[:rows] = gray
    page[rows + gap :] = 255 - gray
    max_h = 0.15 * min(gray.shape)
    regions: list[TextRegion] = []
    for w in _tesseract(page, psm=11, timeout_s=timeout_s):
        if w.y + w.h <= rows:
            y = w.y
        elif w.y >= rows + gap:
            y = w.y - rows - gap
        else:
            continue  # across the seam: no word of either picture
        letters = _alnum(w.text)
        if not _MIN_CHAR_PX <= w.h <= max_h or letters < 0.5 * len(w.text):
            continue
        if w.conf >= OCR_CANDIDATE and (letters >= 2 or is_laterality(w.text)):
            regions.append(TextRegion(w.x, y, w.w, w.h, w.text, w.conf, "ocr"))
    return _merge(regions, pad=1.0)


_CROP_TEXT_PX = 40  # height regions are enlarged to for reading them again
_CROP_MAX_W = 1600


def _read_crops(
    items: Sequence[tuple[NDArray[np.uint8], TextRegion]], *, timeout_s: float
) -> list[tuple[str, float]]:
    """What tesseract reads in each region on its own: enlarged, contrast stretched, in both
    polarities side by side, all regions one below the other in one page and one call.

    Returns
    -------
    list
        Per region (in order) the text of the better polarity and its mean confidence;
        ``("", 0.0)`` where nothing was read.
    """
    import cv2

    if not items:
        return []
    tiles = []
    for picture, region in items:
        h = max(region.height, 1)
        pad = h // 2 + 2
        x0, y0, x1, y1 = region.box
        rows, cols = picture.shape
        crop = picture[
            max(y0 - pad, 0) : min(y1 + pad, rows), max(x0 - pad, 0) : min(x1 + pad, cols)
        ]
        zoom = min(max(1.0, _CROP_TEXT_PX / h), 8.0, _CROP_MAX_W / max(crop.shape[1], 1))
        big = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        tiles.append(np.asarray(cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX), dtype=np.uint8))
    gap = _CROP_TEXT_PX
    width = max(t.shape[1] for t in tiles)
    split = gap + width + gap // 2
    page = np.full(
        (sum(t.shape[0] + gap for t in tiles) + gap, 2 * width + 3 * gap), 255, dtype=np.uint8
    )
    bands = []
    top = gap
    for t in tiles:
        th, tw = t.shape
        page[top : top + th, gap : gap + tw] = t
        page[top : top + th, split + gap // 2 : split + gap // 2 + tw] = 255 - t
        bands.append((top, top + th))
        top += th + gap
    reads: list[dict[bool, list[_Word]]] = [{False: [], True: []} for _ in tiles]
    for w in _tesseract(page, psm=11, timeout_s=timeout_s):
        if not _alnum(w.text):
            continue
        cy = w.y + w.h / 2
        for k, (b0, b1) in enumerate(bands):
            if b0 <= cy < b1:
                reads[k][w.x + w.w / 2 >= split].append(w)
                break
    out = []
    for read in reads:
        best: tuple[str, float] = ("", 0.0)
        for words in read.values():
            if words:
                words.sort(key=lambda w: w.x)
                conf = float(np.mean([w.conf for w in words]))
                if conf > best[1]:
                    best = (" ".join(w.text for w in words), conf)
        out.append(best)
    return out


def find_text(
    image: Radiograph | NDArray[Any],
    *,
    ocr: bool = True,
    max_side: int = MAX_SIDE,
    timeout_s: float = OCR_TIMEOUT_S,
) -> list[TextRegion]:
    """Burned-in text in a radiograph: lines found by OCR, by their shapes, or both.

    Tesseract reads the default display rendering and its inverse (sparse text, anywhere in
    the image; text near the borders is not preferred). A line it reads counts where the
    shapes see text too, or where it reads the line again on its own, enlarged, with
    ``MIN_CONFIDENCE``: words read into bone texture do not. Lines of three glyphs or more
    that the shapes find are kept whatever OCR makes of them (text it cannot read is still
    text), and so are shorter ones in the image's corners, where consoles print; other short
    ones, and those seen only in the brightest-code map (``extreme_map``) outside the
    corners, need OCR to read letters in them. Without Tesseract every line found counts.

    Parameters
    ----------
    image
        A radiograph (its default display rendering is searched) or an 8-bit image.
    ocr
        Use Tesseract when it is installed (``tesseract_path``); False: the shapes only.
    max_side
        The image is shrunk to this longer side first (boxes come back in image pixels).
    timeout_s
        Limit of each ``tesseract`` call.

    Returns
    -------
    list of TextRegion
        Top to bottom; lone laterality markers included (``TextRegion.laterality``).

    Raises
    ------
    OcrFailed
        Tesseract is installed but failed on this image (crash, timeout, unreadable output).
    """
    gray, back = _working(display_image(image), max_side)
    # (line, the picture it was seen in, its glyphs): a line of the extreme map is read there
    shapes = [(r, gray, n) for r, n in _shape_lines(gray)]
    if isinstance(image, Radiograph):
        full = extreme_map(image)
        if full is not None:
            ink, _ = _working(full, max_side)
            ink = np.where(ink > 0, np.uint8(255), np.uint8(0))  # thin strokes survive shrinking
            shapes += [(r, ink, n) for r, n in _shape_lines(ink, ink_map=True)]
    if not ocr or tesseract_path() is None:
        return _in_image(_merge(r for r, _, _ in shapes), back)
    lines = _ocr_lines(gray, timeout_s=timeout_s)
    alone = [line for line in lines if not any(_overlap(line, s) for s, _, _ in shapes)]
    found = [line for line in lines if line not in alone]
    read = _read_crops([(gray, r) for r in alone], timeout_s=timeout_s)
    for line, (text, conf) in zip(alone, read):
        if conf >= MIN_CONFIDENCE and (_alnum(text) >= 2 or is_laterality(text)):
            found.append(replace(line, confidence=min(line.confidence, conf)))
    unread = [t for t in shapes if not any(_overlap(t[0], r) for r in found)]
    found += [s for s, _, _ in shapes if not any(s is u for u, _, _ in unread)]
    read = _read_crops([(p, r) for r, p, _ in unread], timeout_s=timeout_s)
    for (s, seen_in, glyphs), (text, conf) in zip(unread, read):
        named = conf >= OCR_CANDIDATE and (_alnum(text) >= 2 or is_laterality(text))
        corner = _in_corner(s, gray.shape)
        shown = seen_in is gray
        if not (named or (glyphs >= 3 and (shown or corner)) or (shown and corner)):
            continue  # a film edge, two blobs beside a hole, where OCR sees no text
        found.append(replace(s, text=text, confidence=conf))
    return _in_image(_merge(found), back)


def to_mask(regions: Iterable[TextRegion]) -> list[TextRegion]:
    """The regions a mask covers: all but lone laterality markers."""
    return [r for r in regions if not r.laterality]


def mask_boxes(
    regions: Iterable[TextRegion], shape: tuple[int, int], *, margin: float = 0.3
) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` to black out for each region, grown by ``margin`` line heights
    (at least 3 px) and clipped to an image of ``shape`` (rows, cols)."""
    rows, cols = shape
    out = []
    for r in regions:
        m = max(3, int(np.ceil(margin * r.height)))
        x0, y0, x1, y1 = r.box
        box = (max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, cols), min(y1 + m, rows))
        if box[0] < box[2] and box[1] < box[3]:
            out.append(box)
    return out
