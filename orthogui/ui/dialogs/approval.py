"""ApprovalDialog: asked when an image to approve still has findings nobody reviewed.

It offers to accept or to reject the rest together with the approval (one undo step), or to
go back and review them; it decides nothing itself and reports the choice by a signal. Findings
hidden below the score threshold are named, and then accepting the rest unseen is not offered:
``showHiddenRequested`` asks to show them instead.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from orthogui.core.annotation import ReviewState


class ApprovalDialog(QMessageBox):
    """Window-modal question; ``chosen`` carries ``ACCEPTED``, ``REJECTED`` or None (cancel)."""

    chosen = Signal(object)
    showHiddenRequested = Signal()

    def __init__(
        self,
        image_name: str,
        proposed: int,
        parent: QWidget | None = None,
        *,
        hidden: int = 0,
        threshold: float = 0.0,
    ) -> None:
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
        self.show_button: QAbstractButton | None = None
        if hidden:
            # Nobody approves what they could not see: no accepting of unseen guesses.
            some = {1: "It is"} if proposed == 1 else {proposed: "All of them are"}
            which = some.get(hidden, f"{hidden} of them {'is' if hidden == 1 else 'are'}")
            self.setText(f"{self.text()} {which} hidden below the score threshold {threshold:.2f}.")
            self.setInformativeText(
                "Findings you have not seen cannot be accepted. Show them to review them, or "
                "reject the rest (hidden ones included) with the approval."
            )
            self.accept_button.setEnabled(False)
            self.accept_button.setToolTip("Some of the rest are hidden: show them first")
            self.show_button = self.addButton(
                f"Show the {hidden} hidden", QMessageBox.ButtonRole.ActionRole
            )
            self.show_button.setObjectName("approval_show_hidden")
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
        if button is self.show_button:
            self.showHiddenRequested.emit()
        self.chosen.emit(self._answers.get(button))
