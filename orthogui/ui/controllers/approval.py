"""Approve and next (Enter): an image is approved only when every finding on it is reviewed.

With findings still proposed, ``ApprovalDialog`` asks whether to accept or reject the rest;
the choice and the approval are one undo step (``core.review.approve``). Then the next image of
the queue not yet approved opens. Proposals hidden below the score threshold count as not
reviewed, and the dialog names them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from orthogui.core.annotation import ReviewState
from orthogui.core.review import unreviewed
from orthogui.ui.dialogs.approval import ApprovalDialog

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

MESSAGE_MS = 8000


class ApprovalController(QObject):
    """The window's approve key; ``dialog`` is the open question, if any."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: ApprovalDialog | None = None

    def approve_and_next(self) -> None:
        """Approve the current image (asking first when findings are unreviewed), then go on."""
        win = self.window
        if win.image_id is None or self.dialog is not None:
            return
        if win.canvas.tool() == "polygon" and win.canvas.tool_object().key(
            Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier
        ):
            return  # Enter closed the polygon being drawn
        rest = unreviewed(win.model, win.image_id)
        if not rest:
            self._approve(win.image_id, None)
            return
        name = Path(win.model.image(win.image_id).path).name
        hidden = win.visibility.hidden(win.image_id)
        self.dialog = ApprovalDialog(
            name, len(rest), win, hidden=len(hidden), threshold=win.visibility.threshold
        )
        self.dialog.showHiddenRequested.connect(win.visibility.show_all)
        self.dialog.chosen.connect(
            lambda choice, image_id=win.image_id: self._on_dialog_chosen(image_id, choice)
        )
        self.dialog.finished.connect(self._on_dialog_finished)
        self.dialog.open()

    def _on_dialog_chosen(self, image_id: str, choice: ReviewState | None) -> None:
        if choice is not None and image_id == self.window.image_id:
            self._approve(image_id, choice)

    def _on_dialog_finished(self, _result: int) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None

    def _approve(self, image_id: str, resolve: ReviewState | None) -> None:
        win = self.window
        win.review.approve(image_id, resolve=resolve)
        queue = win.queue_panel
        nxt = queue.neighbour(image_id, +1, skip_approved=True)
        nxt = nxt or queue.neighbour(None, +1, skip_approved=True)
        if nxt is not None and nxt != image_id:
            win.open_image(nxt)
        else:
            win.statusBar().showMessage("Every image of the queue is approved", MESSAGE_MS)
