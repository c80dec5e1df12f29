"""Undo and redo you can see: a step that changes another image opens that image first, then
selects what changed; the Edit menu and the toolbar tooltips name the step and its image (the
toolbar buttons keep their short labels, so nothing on the toolbar moves).

The image a step changes comes from the Qt-free ``Command.touched_images``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from orthogui.core.commands import Command
from orthogui.ui.actions import spec

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

MESSAGE_MS = 8000


class UndoRedoController(QObject):
    """Runs Undo/Redo for ``window`` (a ``MainWindow``) and keeps the Edit menu's texts."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._pending: tuple[str, list[str], str] | None = None  # image, ids, message
        # Connected after the window's own slot: the image is shown when this one runs.
        window.loader.loaded.connect(self._on_loader_loaded)

    # -- the steps ------------------------------------------------------------------------
    def undo(self) -> None:
        self._step(undo=True)

    def redo(self) -> None:
        self._step(undo=False)

    def _step(self, *, undo: bool) -> None:
        w, h = self.window, self.window.history
        cmd = h.undo_command() if undo else h.redo_command()
        if cmd is None or not (h.undo() if undo else h.redo()):
            return
        target = self._target(cmd)
        verb = "Undid" if undo else "Redid"
        if target is None:
            w.statusBar().showMessage(f"{verb} {cmd.label}", MESSAGE_MS)
            return
        changed = set(cmd.annotation_ids())
        ids = [a.id for a in w.model.annotations(target) if a.id in changed]
        message = f"{verb} {cmd.label} on {self._name(target)}"
        if target == w.image_id and w.radiograph is not None:
            self._show(ids, message)
            return
        self._pending = (target, ids, message)
        w.open_image(target)

    def _target(self, cmd: Command) -> str | None:
        """The image to show: the current one if the step touches it, else the first one."""
        images = [i for i in cmd.touched_images() if self.window.model.has_image(i)]
        if not images:
            return None
        current = self.window.image_id
        return current if current in images else images[0]

    def _show(self, ids: list[str], message: str) -> None:
        w = self.window
        w.canvas.select(ids, center=bool(ids))
        w.statusBar().showMessage(message, MESSAGE_MS)

    def _on_loader_loaded(self, image_id: str, _radiograph: object) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == image_id == self.window.image_id:
            self._show(pending[1], pending[2])

    # -- the Edit menu --------------------------------------------------------------------
    def _name(self, image_id: str) -> str:
        return Path(self.window.model.image(image_id).path).name

    def text(self, verb: str, cmd: Command | None) -> str:
        """Menu text: "&Undo Accept 2 findings (IMG0000443.jpg)"; several images are counted."""
        if cmd is None:
            return f"&{verb}"
        images = [i for i in cmd.touched_images() if self.window.model.has_image(i)]
        where = (
            f" ({self._name(images[0])})"
            if len(images) == 1
            else f" ({len(images)} images)"
            if images
            else ""
        )
        return f"&{verb} {cmd.label}{where}"

    def refresh(self) -> None:
        """Enable Undo/Redo and name their steps (after every history change)."""
        h, actions = self.window.history, self.window.action_map
        actions["undo"].setEnabled(h.can_undo())
        actions["redo"].setEnabled(h.can_redo())
        for name, cmd in (("undo", h.undo_command()), ("redo", h.redo_command())):
            # The menu item names the step; the toolbar button keeps its short label (its
            # icon text, set once from the table) and names the step in its tooltip.
            act, keys = actions[name], ", ".join(spec(name).keys)
            act.setText(self.text(name.capitalize(), cmd))
            what = act.text().replace("&", "") if cmd is not None else spec(name).help
            act.setToolTip(f"{what} ({keys})")
