"""FileCommands: the File-menu dialogs of the main window (open, new project, inventory).

A mixin so that the main window stays about wiring; each method asks for a path and hands
it to the window's own ``add_paths`` / ``switch_project``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

from orthogui.ui.controllers.inventory import Spacing, build_inventory, to_csv
from orthogui.ui.dialogs.inventory import InventoryDialog

PROJECT_FILTER = "OrthoGUI project (*.orthogui)"


class FileCommands:
    """Needs ``add_paths``, ``switch_project``, ``model``, ``store``, ``image_id``, ``_spacings``."""

    model: Any
    store: Any
    image_id: str | None
    _spacings: dict[str, Spacing | None]

    def add_paths(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def switch_project(self, path: Path, *, create: bool) -> Any:
        raise NotImplementedError

    def _parent(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self._parent(), "Open radiographs")
        if files:
            self.add_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent(), "Open a folder of radiographs")
        if folder:
            self.add_paths([Path(folder)])

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self._parent(), "New project", "", PROJECT_FILTER)
        if path:
            if not path.endswith(".orthogui"):
                path += ".orthogui"
            self.switch_project(Path(path), create=True)

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent(), "Open project", "", PROJECT_FILTER)
        if path:
            self.switch_project(Path(path), create=False)

    def show_inventory(self) -> InventoryDialog:
        dlg = InventoryDialog(
            self.model,
            title=Path(self.store.path).stem,
            current_image=self.image_id,
            spacings=dict(self._spacings),
            parent=self._parent(),
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def choose_inventory_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._parent(), "Export inventory", "inventory.csv", "CSV (*.csv)"
        )
        if path:
            inv = build_inventory(self.model, spacings=dict(self._spacings))
            Path(path).write_text(to_csv(inv), encoding="utf-8")
