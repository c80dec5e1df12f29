"""Screw inventory for surgeons: count by screw type and length (mm), per image, per patient
and study, and in all.

Plain data and text (CSV, HTML); the dialog shows it and prints the HTML. Rejected findings
are excluded; a length is only given where the image's pixel spacing is known. Each study
names its patient (name, ID), study date and accession number, and each image its reviewers;
in de-identified display the patient facts are left out and patients and studies numbered.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orthogui.core.annotation import ReviewState
from orthogui.core.categories import SCREW_GROUP
from orthogui.core.geometry import length_mm
from orthogui.core.patient import MISSING, dicom_date, person_name, queue_group
from orthogui.core.project import SPACING_KEY, ImageRecord, ProjectModel

Spacing = tuple[float, float]  # (row, column) in mm
STUDY = "All images"  # the image column of the totals over every image
STUDY_TOTAL = "Study total"  # the image column of a study's totals


def record_spacing(record: ImageRecord) -> Spacing | None:
    """The pixel spacing stored for an image (read from its header at import, or when it was
    first shown), or None."""
    value = record.attributes.get(SPACING_KEY)
    if not value or len(value) != 2:
        return None
    return (float(value[0]), float(value[1]))


@dataclass(frozen=True)
class InventoryRow:
    """``count`` screws of one type and (rounded) length on one image, a study or all images."""

    image: str  # file name, STUDY_TOTAL for a study's totals, STUDY for the totals of all
    screw_type: str
    length_mm: int | None  # rounded to whole mm; None = unknown (no pixel spacing)
    count: int
    unreviewed: int  # of which still proposed by the model
    reviewer: str = ""  # who reviewed the image's findings ("a, b"); "" on totals


@dataclass(frozen=True)
class StudyInventory:
    """The screws of one study of one patient: its identifiers, totals and images' rows.

    Identifiers are "" when unknown, and always "" in de-identified display, where
    ``patient`` and ``study`` are numbered labels ("Patient 1", "Study 2") instead.
    """

    patient: str  # "DOE, JANE", "Unknown patient", or "Patient 1"
    patient_id: str
    study: str  # "2024-03-01 · KNEE", "Unknown study", or "Study 1"
    study_date: str  # YYYY-MM-DD
    accession: str
    totals: tuple[InventoryRow, ...]
    per_image: tuple[InventoryRow, ...]


@dataclass(frozen=True)
class Inventory:
    per_image: tuple[InventoryRow, ...]  # every image's rows, in patient/study order
    totals: tuple[InventoryRow, ...]  # over every image
    images_without_spacing: tuple[str, ...]
    studies: tuple[StudyInventory, ...] = ()
    deidentified: bool = False

    def total(self) -> int:
        return sum(r.count for r in self.totals)


def _name(record: ImageRecord) -> str:
    return Path(record.path).name


Key = tuple[str, int | None]  # screw type, rounded length


def reviewers(model: ProjectModel, image_id: str) -> str:
    """Who reviewed the findings of an image (accepted, corrected or rejected them), sorted."""
    names = {a.review.by for a in model.annotations(image_id) if a.review.by}
    return ", ".join(sorted(names))


def _rows(
    image: str,
    counts: Counter[Key],
    opened: Counter[Key],
    order: Mapping[str, int],
    reviewer: str = "",
) -> list[InventoryRow]:
    keys = sorted(counts, key=lambda k: (order[k[0]], k[1] is None, k[1] or 0))
    return [InventoryRow(image, k[0], k[1], counts[k], opened[k], reviewer) for k in keys]


def build_inventory(
    model: ProjectModel,
    *,
    image_ids: list[str] | None = None,
    spacings: Mapping[str, Spacing | None] | None = None,
    deidentified: bool = False,
) -> Inventory:
    """Count the non-rejected screws of the given images (default: all) by type and length.

    Parameters
    ----------
    model
        The project.
    image_ids
        The images to count (default: every image of the project).
    spacings
        Pixel spacing learnt from images shown (wins over the one stored at import).
    deidentified
        Leave out patient names, IDs, study dates and accession numbers; number the patients
        and studies instead (de-identified display).

    Returns
    -------
    Inventory
        Rows per image, per patient and study, and totals; images with screws but no spacing.
    """
    screw_types = [c.name for c in model.categories.group(SCREW_GROUP)]
    order = {name: i for i, name in enumerate(screw_types)}
    records = [model.image(i) for i in image_ids] if image_ids else model.images()
    groups = {r.id: queue_group(r) for r in records}
    tree: dict[str, dict[str, list[ImageRecord]]] = {}
    for rec in sorted(records, key=lambda r: (_name(r).lower(), r.id)):
        g = groups[rec.id]
        tree.setdefault(g.patient_key, {}).setdefault(g.study_key, []).append(rec)

    def first(patient: str) -> ImageRecord:
        return next(iter(tree[patient].values()))[0]

    patients = sorted(tree, key=lambda p: (p == "", groups[first(p).id].patient_label, p))
    per_image: list[InventoryRow] = []
    studies: list[StudyInventory] = []
    everything: Counter[Key] = Counter()
    everything_open: Counter[Key] = Counter()
    no_spacing: list[str] = []
    for n, patient in enumerate(patients, start=1):
        by_study = sorted(
            tree[patient].items(), key=lambda s: (groups[s[1][0].id].study_sort, s[0])
        )
        for m, (study_key, recs) in enumerate(by_study, start=1):
            study: Counter[Key] = Counter()
            study_open: Counter[Key] = Counter()
            image_rows: list[InventoryRow] = []
            for rec in recs:
                spacing = (spacings or {}).get(rec.id) or record_spacing(rec)
                counts: Counter[Key] = Counter()
                opened: Counter[Key] = Counter()
                for ann in model.annotations(rec.id):
                    if ann.category not in order or ann.review.state == ReviewState.REJECTED:
                        continue
                    mm = length_mm(ann.shape, spacing)
                    key = (ann.category, None if mm is None else round(mm))
                    counts[key] += 1
                    opened[key] += ann.review.state == ReviewState.PROPOSED
                if counts and spacing is None:
                    no_spacing.append(_name(rec))
                image_rows += _rows(_name(rec), counts, opened, order, reviewers(model, rec.id))
                study.update(counts)
                study_open.update(opened)
            per_image += image_rows
            everything.update(study)
            everything_open.update(study_open)
            facts = _study_facts(recs[0], patient, study_key, n, m, deidentified=deidentified)
            totals = tuple(_rows(STUDY_TOTAL, study, study_open, order))
            studies.append(StudyInventory(*facts, totals=totals, per_image=tuple(image_rows)))
    overall = tuple(_rows(STUDY, everything, everything_open, order))
    return Inventory(tuple(per_image), overall, tuple(no_spacing), tuple(studies), deidentified)


def _study_facts(
    rec: ImageRecord, patient_key: str, study_key: str, n: int, m: int, *, deidentified: bool
) -> tuple[str, str, str, str, str]:
    """(patient, patient ID, study, study date, accession) of the study ``rec`` belongs to;
    numbered labels and no identifiers when de-identified."""
    if deidentified:
        patient = f"Patient {n}" if patient_key else "Unknown patient"
        return patient, "", f"Study {m}" if study_key else "Unknown study", "", ""
    g, attrs = queue_group(rec), rec.attributes
    name = str(attrs.get("PatientName", "")).strip()
    return (
        person_name(name) if name else g.patient_label,
        str(attrs.get("PatientID", "")).strip(),
        g.study_label,
        dicom_date(str(attrs.get("StudyDate", "")).strip()),
        str(attrs.get("AccessionNumber", "")).strip(),
    )


def _length_text(row: InventoryRow) -> str:
    return "unknown" if row.length_mm is None else str(row.length_mm)


CSV_COLUMNS = (
    "scope",
    "patient",
    "patient_id",
    "study",
    "study_date",
    "accession",
    "image",
    "reviewer",
    "screw_type",
    "length_mm",
    "count",
    "unreviewed",
)


def to_csv(inv: Inventory) -> str:
    """CSV text: for each patient and study, its images' rows then the study's totals; then
    the totals of all images (``scope`` is ``image``, ``study`` or ``all``)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def row(scope: str, s: StudyInventory | None, r: InventoryRow) -> list[object]:
        facts = [s.patient, s.patient_id, s.study, s.study_date, s.accession] if s else [""] * 5
        tail = [r.screw_type, _length_text(r), r.count, r.unreviewed]
        return [scope, *facts, r.image, r.reviewer, *tail]

    for s in inv.studies:
        w.writerows(row("image", s, r) for r in s.per_image)
        w.writerows(row("study", s, r) for r in s.totals)
    w.writerows(row("all", None, r) for r in inv.totals)
    return out.getvalue()


def _table(rows: tuple[InventoryRow, ...], *, with_image: bool) -> str:
    head = ("<th>Image</th><th>Reviewer</th>" if with_image else "") + (
        "<th>Screw type</th><th>Length (mm)</th><th>Count</th><th>Unreviewed</th>"
    )
    body = []
    for r in rows:
        cells = (
            f"<td>{html.escape(r.image)}</td><td>{html.escape(r.reviewer or MISSING)}</td>"
            if with_image
            else ""
        ) + (
            f"<td>{html.escape(r.screw_type.replace('_', ' '))}</td>"
            f"<td align='right'>{_length_text(r)}</td><td align='right'>{r.count}</td>"
            f"<td align='right'>{r.unreviewed or ''}</td>"
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        "<table border='1' cellspacing='0' cellpadding='4' width='100%'>"
        f"<tr>{head}</tr>{''.join(body)}</table>"
    )


def study_heading(s: StudyInventory) -> tuple[str, str]:
    """(patient line, study line) as the dialog and the printable page title a study."""
    patient = s.patient + (f" · ID {s.patient_id}" if s.patient_id else "")
    study = s.study
    if s.accession:
        study += f" · Accession {s.accession}"
    return patient, study


def to_html(inv: Inventory, *, title: str) -> str:
    """A printable page: totals of all images first, then each patient's studies (study
    totals, then the screws of every image with its reviewers)."""
    note = ""
    if inv.images_without_spacing:
        names = ", ".join(html.escape(n) for n in inv.images_without_spacing)
        note = f"<p><b>Lengths unknown</b> (no pixel spacing): {names}</p>"
    if inv.deidentified:
        note += "<p><i>De-identified: patient names, IDs, dates and accessions left out.</i></p>"
    parts, shown = [], ""
    for s in inv.studies:
        patient, study = study_heading(s)
        if patient != shown:
            parts.append(f"<h2>Patient: {html.escape(patient)}</h2>")
            shown = patient
        parts.append(
            f"<h3>{html.escape(study)}</h3>{_table(s.totals, with_image=False)}"
            f"<p></p>{_table(s.per_image, with_image=True)}"
        )
    return (
        f"<html><body><h1>Screw inventory — {html.escape(title)}</h1>"
        f"<p>{inv.total()} screws (rejected findings excluded).</p>{note}"
        f"<h2>All images</h2>{_table(inv.totals, with_image=False)}"
        f"{''.join(parts)}</body></html>"
    )
