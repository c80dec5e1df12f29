"""ResumeSession: reopening a project shows the image the reviewer was on, at its zoom and centre.

Kept per project in the app settings (per user and machine, like window geometry), never in
the shared project file: two reviewers of one project each resume where they left it.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF

from orthogui.core.radiograph import Radiograph

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow


def project_key(path: str | Path) -> str:
    """The settings group of one project file (a hash: paths hold '/' and ':')."""
    resolved = str(Path(path).resolve())
    return "projects/" + hashlib.sha1(resolved.encode("utf-8")).hexdigest()[:16]


class ResumeSession(QObject):
    """Remembers the open image and its view; ``resume`` opens it again (else the first)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._pending: tuple[str, float, float, float] | None = None  # id, zoom, centre

    @classmethod
    def install(cls, window: MainWindow) -> ResumeSession:
        """Connect after the window's own loader slot, so that the view is set after its fit."""
        session = cls(window)
        window.loader.loaded.connect(session._on_loader_loaded)
        return session

    def _key(self, name: str) -> str:
        return f"{project_key(self._window.store.path)}/{name}"

    def last_image(self) -> str | None:
        """The image remembered for this project, if it is still in it and on disk."""
        settings = self._window.settings
        if settings is None:
            return None
        image_id = str(settings.value(self._key("image")) or "")
        model, store = self._window.model, self._window.store
        if not image_id or not model.has_image(image_id):
            return None
        return image_id if store.image_path(model.image(image_id)).is_file() else None

    def resume(self) -> None:
        """Open the image the reviewer was on, with its view; else the queue's first image."""
        image_id = self.last_image()
        if image_id is None:
            self._window.step_image(+1)
            return
        settings = self._window.settings
        if settings is None:  # last_image() found one, so there are settings
            return
        view = [_number(settings.value(self._key(k))) for k in ("zoom", "center_x", "center_y")]
        if all(math.isfinite(v) for v in view) and view[0] > 0:
            self._pending = (image_id, view[0], view[1], view[2])
        self._window.open_image(image_id)

    def save(self) -> None:
        """Write the current image and view (called on each image shown and on closing)."""
        settings, canvas = self._window.settings, self._window.canvas
        if settings is None or self._window.image_id is None:
            return
        centre = canvas.to_scene(QPointF(canvas.viewport().rect().center()))
        settings.setValue(self._key("project"), str(self._window.store.path))
        settings.setValue(self._key("image"), self._window.image_id)
        settings.setValue(self._key("zoom"), canvas.scale_factor())
        settings.setValue(self._key("center_x"), centre.x())
        settings.setValue(self._key("center_y"), centre.y())

    def _on_loader_loaded(self, image_id: str, _rg: Radiograph) -> None:
        if image_id != self._window.image_id:
            return
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == image_id:
            canvas = self._window.canvas
            canvas.zoom_at(pending[1] / canvas.scale_factor())
            canvas.centerOn(QPointF(pending[2], pending[3]))
            self._window.readout.show_zoom(canvas.scale_factor())
        self.save()


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
