"""Keeps the user told when the project file cannot be written: a red banner with Retry and
"Save a copy as…", a dialog the first time, "read-only" in the title; and the choice to open a
project read-only when another window or program has it open for editing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from orthogui.io.store import ProjectLockedError, ProjectStore, ProjectStoreError, StoreWriteError
from orthogui.ui.dialogs.files import save_file_name

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

PROJECT_FILTER = "OrthoGUI project (*.orthogui)"


class StoreBanner(QFrame):
    """The red bar above the canvas: what is wrong, "Retry" and "Save a copy as…"."""

    retryRequested = Signal()
    copyRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StoreBanner")
        self.setStyleSheet(
            "#StoreBanner { background: #b3261e; } #StoreBanner QLabel { color: white; }"
        )
        self.label = QLabel(self)
        self.label.setObjectName("StoreBannerText")
        self.label.setWordWrap(True)
        self.retry_button = QPushButton("&Retry", self)
        self.retry_button.setObjectName("StoreBannerRetry")
        self.copy_button = QPushButton("Save a &copy as…", self)
        self.copy_button.setObjectName("StoreBannerCopy")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.retry_button)
        row.addWidget(self.copy_button)
        self.retry_button.clicked.connect(self.retryRequested)
        self.copy_button.clicked.connect(self.copyRequested)
        self.hide()

    def show_problem(self, text: str, *, can_retry: bool) -> None:
        self.label.setText(text)
        self.retry_button.setVisible(can_retry)
        self.show()


class StoreHealth(QObject):
    """Listens to the store of a main window; the window keeps it as ``store_health``."""

    def __init__(self, window: MainWindow, store: ProjectStore) -> None:
        super().__init__(window)
        self._window, self.store = window, store
        self._dialog_shown = False
        store.keep_unsaved_edits()
        self.banner = StoreBanner()
        canvas = window.takeCentralWidget()
        holder = QWidget(window)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        if canvas is not None:
            column.addWidget(canvas, 1)
        window.setCentralWidget(holder)
        self.banner.retryRequested.connect(self.retry)
        self.banner.copyRequested.connect(self.save_copy)
        store.write_failed.connect(self._on_store_write_failed)
        store.write_recovered.connect(self._on_store_write_recovered)
        if store.read_only:
            self._show_read_only(refresh=False)  # the window sets its title when built

    @classmethod
    def install(cls, window: MainWindow) -> StoreHealth:
        return cls(window, window.store)

    def title_note(self) -> str:
        """What the window title adds: " [read-only]", " [not saved]" or nothing."""
        if self.store.read_only:
            return " [read-only]"
        return " [not saved]" if self.store.last_error is not None else ""

    # -- actions ----------------------------------------------------------------------------
    def retry(self) -> bool:
        """Write the unsaved edits now (the banner's Retry); True when all are saved."""
        return self.store.retry()

    def ask_copy_path(self) -> str:
        name, here = f"{Path(self.store.path).stem} (copy).orthogui", Path(self.store.path).parent
        path = save_file_name(
            self._window,
            "Save a copy of the project as",
            kind="project",
            name=name,
            filter=PROJECT_FILTER,
            fallback=here,
        )
        return str(path) if path is not None else ""

    def save_copy(self) -> Path | None:
        """Ask for a file and write the whole project as this window holds it to it."""
        path = self.ask_copy_path()
        if not path:
            return None
        try:
            dest = self.store.save_copy(path)
        except ProjectStoreError as exc:
            QMessageBox.warning(self._window, "Copy not saved", str(exc))
            return None
        self._window.statusBar().showMessage(
            f"Saved a copy with every edit of this window to {dest} (File → Open project to "
            "work on in it)",
            0,
        )
        return dest

    def confirm_close(self) -> bool:
        """Whether the window may close: True when every edit is saved (a last retry is made
        first); otherwise the user saves a copy, closes losing the unsaved edits, or stays."""
        if not self.store.has_unsaved or self.retry():
            return True
        n = self.store.unsaved
        box = QMessageBox(self._window)
        box.setObjectName("UnsavedOnCloseDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Edits not saved")
        box.setText(f"{n} edit{'s' * (n != 1)} could not be written to {self.store.path}.")
        box.setInformativeText(
            "Save a copy of the project with them, or close and lose them, or cancel and stay."
        )
        copy = box.addButton("Save a &copy as…", QMessageBox.ButtonRole.AcceptRole)
        copy.setObjectName("CloseSaveCopy")
        lose = box.addButton("Close and &lose them", QMessageBox.ButtonRole.DestructiveRole)
        lose.setObjectName("CloseLose")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(copy)
        box.exec()
        if box.clickedButton() is copy:
            return self.save_copy() is not None
        return box.clickedButton() is lose

    # -- store signals (GUI thread) ------------------------------------------------------------
    def _on_store_write_failed(self, error: StoreWriteError) -> None:
        if self.store.read_only:
            self._show_read_only()
            self._window.statusBar().showMessage(
                "Read-only project: that edit was not made. Save a copy to edit.", 10000
            )
            return
        n = self.store.unsaved
        self.banner.show_problem(
            f"Edits are NOT being saved to {self.store.path}. {error.reason}. "
            f"{n} edit(s) are kept in this window only: Retry once the problem is solved, "
            "or save a copy.",
            can_retry=True,
        )
        self._window.statusBar().showMessage(f"Not saved: {n} edit(s) kept in this window", 0)
        self._refresh_title()
        if not self._dialog_shown:
            self._dialog_shown = True
            QTimer.singleShot(0, lambda: self._show_dialog(error))

    def _on_store_write_recovered(self) -> None:
        self.banner.hide()
        self._window.statusBar().showMessage(
            f"All edits are saved to {Path(self.store.path).name} again", 8000
        )
        self._refresh_title()

    def _show_read_only(self, *, refresh: bool = True) -> None:
        self.banner.show_problem(
            f"Read-only: {self.store.read_only_reason}. Edits are not saved to "
            f"{self.store.path}; save a copy to work on it.",
            can_retry=False,
        )
        if refresh:
            self._refresh_title()

    def _show_dialog(self, error: StoreWriteError) -> None:
        box = QMessageBox(self._window)
        box.setObjectName("StoreFailedDialog")
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Edits are not being saved")
        box.setText(f"The project file could not be written:\n{error}")
        box.setInformativeText(
            "Your edits are kept in this window. Solve the problem (free disk space, close "
            "the other program) and press Retry in the red bar, or save a copy of the project."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.exec()

    def _refresh_title(self) -> None:
        self._window.update_title()


def open_project(parent: QWidget | None, path: Path) -> ProjectStore | None:
    """Open ``path`` for editing; if another window or program has it open, offer to open it
    read-only (returns None on Cancel). Other errors propagate."""
    try:
        return ProjectStore.open(path)
    except ProjectLockedError as exc:
        box = QMessageBox(parent)
        box.setObjectName("ProjectLockedDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Project in use")
        box.setText(f"{path.name} is open for editing by {exc.holder or 'another program'}.")
        box.setInformativeText(
            "Only one window or program can edit a project at a time. Open it read-only to "
            "look at it (a copy can be saved to edit), or cancel and close it there first."
        )
        read_only = box.addButton("Open &read-only", QMessageBox.ButtonRole.AcceptRole)
        read_only.setObjectName("OpenReadOnly")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not read_only:
            return None
        store = ProjectStore.open(path, read_only=True)
        store.read_only_reason = f"in use by {exc.holder or 'another program'}"
        return store
