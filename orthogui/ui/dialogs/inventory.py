"""InventoryDialog: the screw inventory as a table, with CSV export and a printable view.

The printable view is the inventory's HTML in a ``QTextDocument``, written to PDF with
``QPdfWriter`` (no printer needed) or sent to a printer through the print dialog.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QMarginsF, Qt
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.core.project import ProjectModel
from orthogui.ui.controllers.inventory import (
    Inventory,
    Spacing,
    build_inventory,
    to_csv,
    to_html,
)


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


class InventoryDialog(QDialog):
    """Study (all images) or current-image inventory of screws by type and length."""

    COLUMNS = ("Image", "Screw type", "Length (mm)", "Count", "Unreviewed")

    def __init__(
        self,
        model: ProjectModel,
        *,
        title: str,
        current_image: str | None,
        spacings: Mapping[str, Spacing | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("InventoryDialog")
        self.setWindowTitle(f"Screw inventory — {title}")
        self.resize(640, 480)
        self.model = model
        self.title = title
        self._current = current_image
        self._spacings = spacings
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.scope = QComboBox(self)
        self.scope.setObjectName("inventoryScope")
        self.scope.addItem("Study (all images)", "study")
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
        self.inventory: Inventory = build_inventory(model)
        self.refresh()

    def refresh(self, *_args: object) -> None:
        ids = [self._current] if self.scope.currentData() == "image" and self._current else None
        self.inventory = build_inventory(self.model, image_ids=ids, spacings=self._spacings)
        rows = list(self.inventory.study) + list(self.inventory.per_image)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = (
                row.image,
                row.screw_type.replace("_", " "),
                "unknown" if row.length_mm is None else str(row.length_mm),
                str(row.count),
                str(row.unreviewed or ""),
            )
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if r < len(self.inventory.study):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        note = f"{self.inventory.total()} screws; rejected findings excluded."
        if self.inventory.images_without_spacing:
            note += " Lengths unknown (no pixel spacing) on: " + ", ".join(
                self.inventory.images_without_spacing
            )
        self.summary.setText(note)

    def html(self) -> str:
        return to_html(self.inventory, title=self.title)

    def export_csv(self, path: Path) -> None:
        Path(path).write_text(to_csv(self.inventory), encoding="utf-8")

    def save_pdf(self, path: Path) -> None:
        write_pdf(self.html(), Path(path))

    def _on_csv_button_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export inventory", "inventory.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(Path(path))

    def _on_pdf_button_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save inventory", "inventory.pdf", "PDF (*.pdf)"
        )
        if path:
            self.save_pdf(Path(path))

    def _on_print_button_clicked(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            doc = QTextDocument()
            doc.setHtml(self.html())
            doc.print_(printer)
