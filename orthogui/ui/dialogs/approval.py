"""ApprovalDialog: asked when an image to approve still has findings nobody reviewed.

It offers to accept or to reject the rest together with the approval (one undo step), or to
go back and review them; it decides nothing itself and reports the choice by a signal.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from orthogui.core.annotation import ReviewState


class ApprovalDialog(QMessageBox):
    """Window-modal question; ``chosen`` carries ``ACCEPTED``, ``REJECTED`` or None (cancel)."""

    chosen = Signal(object)

    def __init__(self, image_name: str, proposed: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ApprovalDialog")
        self.setWindowTitle("Approve image")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setTextFormat(Qt.TextFormat.PlainText)
        findings = f"{proposed} finding{'s' * (proposed != 1)}"
        self.setText(f"{image_name} still has {findings} proposed by the model and not reviewed.")
        self.setInformativeText(
            "Only reviewed findings count as approved (and go into training snapshots). "
            "Decide the rest together with the approval, or cancel and review them one by "
            "one (Tab, A, R)."
        )
        self.accept_button = self._button("accept", "Accept the rest and approve")
        self.reject_button = self._button("reject", "Reject the rest and approve")
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("approval_cancel")
        # Enter pressed twice by habit must not approve unreviewed guesses: Cancel is default.
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)
        self._answers: dict[QAbstractButton, ReviewState | None] = {
            self.accept_button: ReviewState.ACCEPTED,
            self.reject_button: ReviewState.REJECTED,
            self.cancel_button: None,
        }
        self.buttonClicked.connect(self._on_self_buttonClicked)

    def _button(self, name: str, text: str) -> QAbstractButton:
        button = self.addButton(text, QMessageBox.ButtonRole.AcceptRole)
        button.setObjectName(f"approval_{name}")
        return button

    def _on_self_buttonClicked(self, button: QAbstractButton) -> None:
        self.chosen.emit(self._answers.get(button))
