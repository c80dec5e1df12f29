"""Screw inventory for surgeons: count by screw type and length (mm), per image and study.

Plain data and text (CSV, HTML); the dialog shows it and prints the HTML. Rejected findings
are excluded; a length is only given where the image's pixel spacing is known.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import SCREW_GROUP
from orthogui.core.geometry import Box, Polygon
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.io.header import SPACING_KEY

Spacing = tuple[float, float]  # (row, column) in mm
STUDY = "All images"


def record_spacing(record: ImageRecord) -> Spacing | None:
    """The pixel spacing stored for an image (read from its header at import, or when it was
    first shown), or None."""
    value = record.attributes.get(SPACING_KEY)
    if not value or len(value) != 2:
        return None
    return (float(value[0]), float(value[1]))


def length_mm(ann: Annotation, spacing: Spacing | None) -> float | None:
    """Length along the principal axis in mm (exact for anisotropic spacing), else None."""
    if spacing is None:
        return None
    shape = ann.shape
    poly = shape.to_polygon() if isinstance(shape, Box) else shape
    scaled = Polygon(poly.points * np.array([spacing[1], spacing[0]]))
    return scaled.principal_axis_length()


@dataclass(frozen=True)
class InventoryRow:
    """``count`` screws of one type and (rounded) length on one image or the whole study."""

    image: str  # file name, or STUDY for the totals
    screw_type: str
    length_mm: int | None  # rounded to whole mm; None = unknown (no pixel spacing)
    count: int
    unreviewed: int  # of which still proposed by the model


@dataclass(frozen=True)
class Inventory:
    per_image: tuple[InventoryRow, ...]
    study: tuple[InventoryRow, ...]
    images_without_spacing: tuple[str, ...]

    def total(self) -> int:
        return sum(r.count for r in self.study)


def _name(record: ImageRecord) -> str:
    return Path(record.path).name


def build_inventory(
    model: ProjectModel,
    *,
    image_ids: list[str] | None = None,
    spacings: Mapping[str, Spacing | None] | None = None,
) -> Inventory:
    """Count the non-rejected screws of the given images (default: all) by type and length."""
    screw_types = [c.name for c in model.categories.group(SCREW_GROUP)]
    order = {name: i for i, name in enumerate(screw_types)}
    records = [model.image(i) for i in image_ids] if image_ids else model.images()
    per_image: list[InventoryRow] = []
    study: Counter[tuple[str, int | None]] = Counter()
    study_open: Counter[tuple[str, int | None]] = Counter()
    no_spacing: list[str] = []
    for rec in records:
        spacing = (spacings or {}).get(rec.id) or record_spacing(rec)
        counts: Counter[tuple[str, int | None]] = Counter()
        opened: Counter[tuple[str, int | None]] = Counter()
        for ann in model.annotations(rec.id):
            if ann.category not in order or ann.review.state == ReviewState.REJECTED:
                continue
            mm = length_mm(ann, spacing)
            key = (ann.category, None if mm is None else round(mm))
            counts[key] += 1
            opened[key] += ann.review.state == ReviewState.PROPOSED
        if counts and spacing is None:
            no_spacing.append(_name(rec))
        for key in sorted(counts, key=lambda k: (order[k[0]], k[1] is None, k[1] or 0)):
            per_image.append(InventoryRow(_name(rec), key[0], key[1], counts[key], opened[key]))
        study.update(counts)
        study_open.update(opened)
    totals = tuple(
        InventoryRow(STUDY, k[0], k[1], study[k], study_open[k])
        for k in sorted(study, key=lambda k: (order[k[0]], k[1] is None, k[1] or 0))
    )
    return Inventory(tuple(per_image), totals, tuple(no_spacing))


def _length_text(row: InventoryRow) -> str:
    return "unknown" if row.length_mm is None else str(row.length_mm)


def to_csv(inv: Inventory) -> str:
    """CSV text: one row per image, type and length, then the study totals."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["scope", "image", "screw_type", "length_mm", "count", "unreviewed"])
    for scope, rows in (("image", inv.per_image), ("study", inv.study)):
        for r in rows:
            w.writerow([scope, r.image, r.screw_type, _length_text(r), r.count, r.unreviewed])
    return out.getvalue()


def _table(rows: tuple[InventoryRow, ...], *, with_image: bool) -> str:
    head = ("<th>Image</th>" if with_image else "") + (
        "<th>Screw type</th><th>Length (mm)</th><th>Count</th><th>Unreviewed</th>"
    )
    body = []
    for r in rows:
        cells = (f"<td>{html.escape(r.image)}</td>" if with_image else "") + (
            f"<td>{html.escape(r.screw_type.replace('_', ' '))}</td>"
            f"<td align='right'>{_length_text(r)}</td><td align='right'>{r.count}</td>"
            f"<td align='right'>{r.unreviewed or ''}</td>"
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        "<table border='1' cellspacing='0' cellpadding='4' width='100%'>"
        f"<tr>{head}</tr>{''.join(body)}</table>"
    )


def to_html(inv: Inventory, *, title: str) -> str:
    """A printable page: study totals first, then the screws of every image."""
    note = ""
    if inv.images_without_spacing:
        names = ", ".join(html.escape(n) for n in inv.images_without_spacing)
        note = f"<p><b>Lengths unknown</b> (no pixel spacing): {names}</p>"
    return (
        f"<html><body><h1>Screw inventory — {html.escape(title)}</h1>"
        f"<p>{inv.total()} screws (rejected findings excluded).</p>{note}"
        f"<h2>Study</h2>{_table(inv.study, with_image=False)}"
        f"<h2>Per image</h2>{_table(inv.per_image, with_image=True)}</body></html>"
    )
