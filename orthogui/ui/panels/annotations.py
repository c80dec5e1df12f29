"""AnnotationListPanel: the findings of the current image, with type, score and state.

Selecting rows emits ``selectionRequested(ids)`` (the window selects them on the canvas);
``select_ids`` mirrors the canvas selection back without echoing a request.
"""

from __future__ import annotations

from collections.abc import Collection

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import CategorySet

ID_ROLE = Qt.ItemDataRole.UserRole
STATE_COLOR = {
    ReviewState.PROPOSED: "#f2b84b",
    ReviewState.ACCEPTED: "#5cc26a",
    ReviewState.CORRECTED: "#5fa8f5",
    ReviewState.REJECTED: "#e5533d",
}


def swatch(color: str, size: int = 12) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(color))
    return QIcon(pm)


class AnnotationListPanel(QDockWidget):
    """One row per finding of the shown image."""

    selectionRequested = Signal(list)

    def __init__(self, categories: CategorySet, parent: QWidget | None = None) -> None:
        super().__init__("Findings", parent)
        self.setObjectName("AnnotationListPanel")
        self.categories = categories
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("findingsTree")
        self.tree.setHeaderLabels(["#", "Type", "Score", "State"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for col, width in enumerate((26, 125, 42, 80)):
            self.tree.setColumnWidth(col, width)
        self.setWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        self.tree.itemSelectionChanged.connect(self._on_tree_itemSelectionChanged)

    def set_header(self, header: QWidget) -> None:
        """Put ``header`` (the score threshold bar) above the list."""
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(header)
        lay.addWidget(self.tree, 1)
        self.setWidget(body)

    def set_annotations(self, annotations: list[Annotation]) -> None:
        with QSignalBlocker(self.tree):
            self.tree.clear()
            self._items.clear()
            for ann in annotations:
                self._add(ann)
        self._renumber()

    def _add(self, ann: Annotation) -> None:
        item = QTreeWidgetItem()
        item.setData(0, ID_ROLE, ann.id)
        self._items[ann.id] = item
        self.tree.addTopLevelItem(item)
        self._fill(item, ann)

    def _fill(self, item: QTreeWidgetItem, ann: Annotation) -> None:
        color = (
            self.categories.by_name(ann.category).color
            if ann.category in self.categories
            else "#888888"
        )
        item.setIcon(1, swatch(color))
        item.setText(1, ann.category.replace("_", " "))
        item.setText(2, "" if ann.score is None else f"{ann.score:.2f}")
        state = ann.review.state
        mark = "" if ann.provenance.is_model else " (human)"
        item.setText(3, state.value + mark)
        item.setForeground(3, QBrush(QColor(STATE_COLOR[state])))
        tip = f"{ann.provenance.source}"
        if ann.review.by:
            tip += f"; {state.value} by {ann.review.by} at {ann.review.at}"
        item.setToolTip(3, tip)

    def _renumber(self) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None:
                item.setText(0, str(i + 1))

    def added(self, ann: Annotation) -> None:
        self._add(ann)
        self._renumber()

    def changed(self, ann: Annotation) -> None:
        item = self._items.get(ann.id)
        if item is not None:
            self._fill(item, ann)

    def removed(self, annotation_id: str) -> None:
        item = self._items.pop(annotation_id, None)
        if item is not None:
            with QSignalBlocker(self.tree):
                self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
            self._renumber()

    def ids(self) -> list[str]:
        return list(self._items)

    def set_hidden(self, ids: Collection[str]) -> None:
        """Hide the rows of ``ids`` (below the score threshold), show all the others."""
        for i, item in self._items.items():
            if item.isHidden() != (i in ids):
                item.setHidden(i in ids)

    def shown_ids(self) -> list[str]:
        return [i for i, item in self._items.items() if not item.isHidden()]

    def selected_ids(self) -> list[str]:
        return [str(it.data(0, ID_ROLE)) for it in self.tree.selectedItems()]

    def select_ids(self, ids: list[str]) -> None:
        """Mirror a selection made elsewhere (no ``selectionRequested`` echo)."""
        with QSignalBlocker(self.tree):
            self.tree.clearSelection()
            for i in ids:
                item = self._items.get(i)
                if item is not None:
                    item.setSelected(True)
            if ids and ids[0] in self._items:
                self.tree.scrollToItem(self._items[ids[0]])

    def _on_tree_itemSelectionChanged(self) -> None:
        self.selectionRequested.emit(self.selected_ids())
