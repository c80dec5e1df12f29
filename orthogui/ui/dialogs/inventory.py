"""InventoryDialog: the screw inventory as a table grouped by patient and study, with CSV
export and a printable view.

The printable view is the inventory's HTML in a ``QTextDocument``, written to PDF with
``QPdfWriter`` (no printer needed) or sent to a printer through the print dialog. In the
window's de-identified display mode (View menu) the patient facts are left out of all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QMarginsF, Qt
from PySide6.QtGui import QAction, QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.core.inventory import (
    Inventory,
    InventoryRow,
    Spacing,
    StudyInventory,
    build_inventory,
    to_csv,
    to_html,
)
from orthogui.core.project import ProjectModel
from orthogui.ui.dialogs.files import save_file_name
from orthogui.ui.dialogs.tables import cell_text


def write_pdf(html_text: str, path: Path) -> None:
    """Lay out the HTML on A4 pages and write a PDF (no printer involved)."""
    writer = QPdfWriter(str(path))
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    writer.setTitle("Screw inventory")
    doc = QTextDocument()
    doc.setHtml(html_text)
    doc.print_(writer)


DEID_ACTION = "action_deidentified"  # the View menu's toggle (controllers.patient)
IDENTIFIER_COLUMNS = ("ID", "Study date", "Accession")  # hidden when de-identified


def deidentified_action(widget: QWidget | None) -> QAction | None:
    """The de-identified display toggle of ``widget``'s window, if it has one."""
    window = widget.window() if widget is not None else None
    return window.findChild(QAction, DEID_ACTION) if window is not None else None


def export_inventory_csv(
    window: QWidget, model: ProjectModel, spacings: Mapping[str, Spacing | None]
) -> None:
    """File → Export inventory: the CSV of every image, de-identified like the display."""
    path = save_file_name(
        window, "Export inventory", kind="export", name="inventory.csv", filter="CSV (*.csv)"
    )
    if path is not None:
        action = deidentified_action(window)
        deid = action is not None and action.isChecked()
        inv = build_inventory(model, spacings=spacings, deidentified=deid)
        path.write_text(to_csv(inv), encoding="utf-8")


class InventoryDialog(QDialog):
    """All images or current-image inventory of screws by type and length, grouped by patient
    and study; ``deidentified`` None follows the window's de-identified display toggle."""

    COLUMNS = (
        "Patient",
        "ID",
        "Study",
        "Study date",
        "Accession",
        "Image",
        "Reviewer",
        "Screw type",
        "Length (mm)",
        "Count",
        "Unreviewed",
    )
    _NUMERIC = 8  # columns from "Length (mm)" on are right-aligned

    def __init__(
        self,
        model: ProjectModel,
        *,
        title: str,
        current_image: str | None,
        spacings: Mapping[str, Spacing | None],
        parent: QWidget | None = None,
        deidentified: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("InventoryDialog")
        self.setWindowTitle(f"Screw inventory — {title}")
        self.resize(960, 520)
        self.model = model
        self.title = title
        self._current = current_image
        self._spacings = spacings
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.scope = QComboBox(self)
        self.scope.setObjectName("inventoryScope")
        self.scope.addItem("All images, by patient and study", "study")
        if current_image is not None:
            self.scope.addItem("Current image", "image")
        top.addWidget(QLabel("Scope", self))
        top.addWidget(self.scope, 1)
        lay.addLayout(top)
        self.summary = QLabel(self)
        self.summary.setObjectName("inventorySummary")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setObjectName("inventoryTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        lay.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.csv_button = QPushButton("Export CSV…", self)
        self.pdf_button = QPushButton("Save PDF…", self)
        self.print_button = QPushButton("Print…", self)
        close = QPushButton("Close", self)
        for b in (self.csv_button, self.pdf_button, self.print_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay.addLayout(buttons)
        self.csv_button.clicked.connect(self._on_csv_button_clicked)
        self.pdf_button.clicked.connect(self._on_pdf_button_clicked)
        self.print_button.clicked.connect(self._on_print_button_clicked)
        close.clicked.connect(self.accept)
        self.scope.currentIndexChanged.connect(self.refresh)
        self._deidentified = bool(deidentified)
        action = deidentified_action(parent) if deidentified is None else None
        if action is not None:
            self._deidentified = action.isChecked()
            action.toggled.connect(self.set_deidentified)
        self.inventory: Inventory = build_inventory(model, deidentified=self._deidentified)
        self.refresh()

    def set_deidentified(self, on: bool) -> None:
        """Leave out (or show again) patient names, IDs, study dates and accession numbers."""
        self._deidentified = on
        self.refresh()

    def is_deidentified(self) -> bool:
        return self._deidentified

    def _table_rows(self) -> list[tuple[StudyInventory | None, InventoryRow]]:
        rows: list[tuple[StudyInventory | None, InventoryRow]] = [
            (None, r) for r in self.inventory.totals
        ]
        for s in self.inventory.studies:
            rows += [(s, r) for r in s.totals] + [(s, r) for r in s.per_image]
        return rows

    def refresh(self, *_args: object) -> None:
        ids = [self._current] if self.scope.currentData() == "image" and self._current else None
        self.inventory = build_inventory(
            self.model, image_ids=ids, spacings=self._spacings, deidentified=self._deidentified
        )
        rows = self._table_rows()
        self.table.setRowCount(len(rows))
        for r, (study, row) in enumerate(rows):
            facts = (
                [study.patient, study.patient_id, study.study, study.study_date, study.accession]
                if study is not None
                else ["All patients", "", "", "", ""]
            )
            values = (
                *facts,
                row.image,
                row.reviewer,
                row.screw_type.replace("_", " "),
                "unknown" if row.length_mm is None else str(row.length_mm),
                str(row.count),
                str(row.unreviewed or ""),
            )
            total = study is None or row in study.totals
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c >= self._NUMERIC:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if total:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        for c, name in enumerate(self.COLUMNS):
            self.table.setColumnHidden(c, self._deidentified and name in IDENTIFIER_COLUMNS)
        self.table.resizeColumnsToContents()
        note = f"{self.inventory.total()} screws; rejected findings excluded."
        if self._deidentified:
            note += " De-identified: patient names, IDs, dates and accessions hidden."
        if self.inventory.images_without_spacing:
            note += " Lengths unknown (no pixel spacing) on: " + ", ".join(
                self.inventory.images_without_spacing
            )
        self.summary.setText(note)

    def visible_text(self) -> list[list[str]]:
        """The table as a reader sees it: the cells of the columns shown, row by row."""
        shown = [c for c in range(self.table.columnCount()) if not self.table.isColumnHidden(c)]
        rows = range(self.table.rowCount())
        return [[cell_text(self.table, r, c) for c in shown] for r in rows]

    def html(self) -> str:
        return to_html(self.inventory, title=self.title)

    def export_csv(self, path: Path) -> None:
        Path(path).write_text(to_csv(self.inventory), encoding="utf-8")

    def save_pdf(self, path: Path) -> None:
        write_pdf(self.html(), Path(path))

    def _on_csv_button_clicked(self) -> None:
        path = save_file_name(
            self, "Export inventory", kind="export", name="inventory.csv", filter="CSV (*.csv)"
        )
        if path is not None:
            self.export_csv(path)

    def _on_pdf_button_clicked(self) -> None:
        path = save_file_name(
            self, "Save inventory", kind="export", name="inventory.pdf", filter="PDF (*.pdf)"
        )
        if path is not None:
            self.save_pdf(path)

    def _on_print_button_clicked(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            doc = QTextDocument()
            doc.setHtml(self.html())
            doc.print_(printer)
