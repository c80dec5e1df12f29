"""FileCommands: the File-menu dialogs of the main window (open, add, new project), and
the app's file dialogs that start in the folder last used for their kind of action.

A mixin so that the main window stays about wiring; each method asks for a path and hands
it to the window's own ``add_paths`` / ``switch_project``. Every file dialog of the app goes
through ``open_file_names`` / ``open_file_name`` / ``save_file_name`` / ``existing_directory``:
the folder last used per ``DialogKind`` is kept in the app settings (not in the project).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from orthogui.core.inventory import Spacing
from orthogui.core.project import ImageAddition, ProjectModel
from orthogui.io.store import ProjectStore

if TYPE_CHECKING:  # the dialog's own exports use the helpers below
    from orthogui.ui.dialogs.inventory import InventoryDialog

PROJECT_FILTER = "OrthoGUI project (*.orthogui)"

DialogKind = Literal["images", "project", "export", "model", "annotations"]
"""Kinds of file action; each starts where the last one of its kind ended."""

_KEY = "dialogs/last_dir/{}"


def settings_for(widget: QWidget | None) -> QSettings:
    """The settings of ``widget``'s main window (its ``settings``), else the app's own file."""
    from orthogui.ui.main_window import MainWindow  # here: the window module imports this one

    w = widget
    while w is not None:
        if isinstance(w, MainWindow) and w.settings is not None:
            return w.settings
        w = w.parentWidget()
    from orthogui.ui.locations import config_dir

    return QSettings(str(config_dir() / "orthogui.ini"), QSettings.Format.IniFormat)


def start_dir(kind: DialogKind, *, widget: QWidget | None, fallback: Path | None = None) -> Path:
    """Where a dialog of ``kind`` starts: the folder last used for it, else ``fallback``,
    else the home folder (a remembered folder that is gone falls through too)."""
    last = settings_for(widget).value(_KEY.format(kind))
    for folder in (Path(str(last)) if last else None, fallback):
        if folder is not None and folder.is_dir():
            return folder
    return Path.home()


def remember_dir(kind: DialogKind, chosen: str | Path, *, widget: QWidget | None) -> None:
    """Remember the folder of ``chosen`` (a file: its folder; a folder: itself) for ``kind``."""
    path = Path(chosen)
    folder = path if path.is_dir() else path.parent
    settings = settings_for(widget)
    settings.setValue(_KEY.format(kind), str(folder))
    settings.sync()


def open_file_names(
    parent: QWidget, caption: str, *, kind: DialogKind, filter: str = ""
) -> list[Path]:
    """``QFileDialog.getOpenFileNames`` starting in the last folder of ``kind``."""
    start = str(start_dir(kind, widget=parent))
    files, _ = QFileDialog.getOpenFileNames(parent, caption, start, filter)
    if files:
        remember_dir(kind, files[0], widget=parent)
    return [Path(f) for f in files]


def open_file_name(
    parent: QWidget,
    caption: str,
    *,
    kind: DialogKind,
    filter: str = "",
    fallback: Path | None = None,
) -> Path | None:
    """``QFileDialog.getOpenFileName`` starting in the last folder of ``kind``."""
    start = str(start_dir(kind, widget=parent, fallback=fallback))
    path, _ = QFileDialog.getOpenFileName(parent, caption, start, filter)
    if path:
        remember_dir(kind, path, widget=parent)
    return Path(path) if path else None


def save_file_name(
    parent: QWidget,
    caption: str,
    *,
    kind: DialogKind,
    name: str = "",
    filter: str = "",
    fallback: Path | None = None,
) -> Path | None:
    """``QFileDialog.getSaveFileName`` in the last folder of ``kind``, proposing ``name``."""
    start = start_dir(kind, widget=parent, fallback=fallback)
    path, _ = QFileDialog.getSaveFileName(parent, caption, str(start / name), filter)
    if path:
        remember_dir(kind, path, widget=parent)
    return Path(path) if path else None


def existing_directory(
    parent: QWidget, caption: str, *, kind: DialogKind, fallback: Path | None = None
) -> Path | None:
    """``QFileDialog.getExistingDirectory`` starting in the last folder of ``kind``."""
    start = str(start_dir(kind, widget=parent, fallback=fallback))
    folder = QFileDialog.getExistingDirectory(parent, caption, start)
    if folder:
        remember_dir(kind, folder, widget=parent)
    return Path(folder) if folder else None


def report_addition(window: QMainWindow, report: ImageAddition) -> QMessageBox | None:
    """Say what adding images did in the status bar; name the duplicates skipped in a message
    (not modal to the app: the reviewer goes on, the box goes away with OK)."""
    text = report.summary()
    window.statusBar().showMessage(text, 10000)
    if not report.duplicates:
        return None
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "Already in the project",
        text,
        QMessageBox.StandardButton.Ok,
        window,
    )
    box.setObjectName("duplicatesMessage")
    box.setDetailedText(
        "\n".join(f"{d.offered}  (in the project as {d.existing.path})" for d in report.duplicates)
    )
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class FileCommands:
    """Needs ``add_paths``, ``switch_project``, ``model``, ``store``, ``image_id``, ``_spacings``."""

    model: ProjectModel
    store: ProjectStore
    image_id: str | None
    _spacings: dict[str, Spacing | None]

    def add_paths(self, paths: list[Path]) -> None:
        raise NotImplementedError

    def switch_project(self, path: Path, *, create: bool) -> QMainWindow:
        raise NotImplementedError

    def _parent(self) -> QWidget:
        assert isinstance(self, QWidget)
        return self

    def choose_files(self) -> None:
        files = open_file_names(self._parent(), "Open radiographs", kind="images")
        if files:
            self.add_paths(files)

    def choose_folder(self) -> None:
        title = "Open a folder of radiographs"
        folder = existing_directory(self._parent(), title, kind="images")
        if folder is not None:
            self.add_paths([folder])

    def new_project(self) -> None:
        path = save_file_name(self._parent(), "New project", kind="project", filter=PROJECT_FILTER)
        if path is not None:
            if path.suffix != ".orthogui":
                path = path.with_name(path.name + ".orthogui")
            self.switch_project(path, create=True)

    def choose_project(self) -> None:
        path = open_file_name(self._parent(), "Open project", kind="project", filter=PROJECT_FILTER)
        if path is not None:
            self.switch_project(path, create=False)

    def show_inventory(self) -> InventoryDialog:
        from orthogui.ui.dialogs.inventory import InventoryDialog

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
