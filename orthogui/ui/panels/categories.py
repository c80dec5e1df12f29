"""CategoryPanel: the project's categories with colour and shortcut; picks the draw category."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem, QWidget

from orthogui.core.categories import CategorySet
from orthogui.ui.panels.annotations import swatch

NAME_ROLE = Qt.ItemDataRole.UserRole


class CategoryPanel(QDockWidget):
    """Emits ``categoryChosen(name)`` when the user picks the category to draw with."""

    categoryChosen = Signal(str)

    def __init__(self, categories: CategorySet, parent: QWidget | None = None) -> None:
        super().__init__("Categories", parent)
        self.setObjectName("CategoryPanel")
        self.list = QListWidget(self)
        self.list.setObjectName("categoryList")
        self.list.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        for cat in categories:
            key = f"  [{cat.shortcut}]" if cat.shortcut else ""
            item = QListWidgetItem(
                swatch(cat.color), f"{cat.display_name}  ·  {cat.shape.value}{key}"
            )
            item.setData(NAME_ROLE, cat.name)
            item.setToolTip(f"{cat.name} ({cat.group or cat.supercategory})")
            self.list.addItem(item)
        self.setWidget(self.list)
        self.list.currentItemChanged.connect(self._on_list_currentItemChanged)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(NAME_ROLE))

    def set_current(self, name: str) -> None:
        with QSignalBlocker(self.list):
            for i in range(self.list.count()):
                if self.list.item(i).data(NAME_ROLE) == name:
                    self.list.setCurrentRow(i)

    def _on_list_currentItemChanged(self, item: QListWidgetItem | None, _prev: object) -> None:
        if item is not None:
            self.categoryChosen.emit(str(item.data(NAME_ROLE)))
