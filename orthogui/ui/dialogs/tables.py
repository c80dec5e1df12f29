"""Small helpers for the dialogs' result tables."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget


def cell_text(table: QTableWidget, row: int, column: int) -> str:
    """The text shown in a cell ("" for a cell that holds no item)."""
    item = table.item(row, column)
    return item.text() if item is not None else ""
