"""EvaluateDialog: score a model version on the project's approved images.

The reference is what the experts left on approved images (accepted, corrected and drawn
findings). The table shows per category box AP50 (boxes) or mask AP/AP50/AP75 with mask IoU
and Dice (polygons); a second tab the screw-type confusion. The report (JSON, the inputs to
reproduce it with ``orthogui evaluate``, PR curves as PNG) can be saved to a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.evaluation.project import ProjectEvaluation, is_reference, reference_images
from orthogui.ui.controllers.evaluation import (
    EvaluationController,
    ModelChoice,
    PredictorLoader,
    Reader,
    evaluation_loader,
    model_choices,
)
from orthogui.ui.dialogs.files import existing_directory
from orthogui.ui.dialogs.tables import cell_text

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

COLUMNS = (
    "Category",
    "Scored by",
    "Reference",
    "Detections",
    "AP",
    "AP50",
    "AP75",
    "Precision",
    "Recall",
    "Mask IoU",
    "Dice",
)
KIND_TEXT = {"bbox": "box IoU", "segm": "mask IoU"}


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


class EvaluateDialog(QDialog):
    """Pick a model, run it on the approved images, read the table, save the report."""

    def __init__(
        self,
        model: ProjectModel,
        *,
        choices: list[ModelChoice],
        image_path_of: Callable[[ImageRecord], Path],
        reader: Reader,
        load_predictor: PredictorLoader,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("EvaluateDialog")
        self.setWindowTitle("Evaluate model")
        self.resize(860, 520)
        self.model = model
        self.evaluation: ProjectEvaluation | None = None
        self.controller = EvaluationController(
            model,
            image_path_of=image_path_of,
            reader=reader,
            load_predictor=load_predictor,
            parent=self,
        )
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName("evaluateModel")
        for choice in choices:
            self.model_combo.addItem(choice.label, choice)
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setObjectName("evaluateThreshold")
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.5)
        self.threshold.setToolTip(
            "Score threshold for precision, recall and the confusion (AP uses all)"
        )
        top.addWidget(QLabel("Model", self))
        top.addWidget(self.model_combo, 1)
        top.addWidget(QLabel("Score threshold", self))
        top.addWidget(self.threshold)
        lay.addLayout(top)
        self.reference_label = QLabel(self)
        self.reference_label.setObjectName("evaluateReference")
        self.reference_label.setWordWrap(True)
        lay.addWidget(self.reference_label)
        self.tabs = QTabWidget(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("evaluateTable")
        self.confusion = QTableWidget(0, 0, self)
        self.confusion.setObjectName("evaluateConfusion")
        for t in (self.table, self.confusion):
            t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.tabs.addTab(self.table, "Per category")
        self.tabs.addTab(self.confusion, "Screw types (rows: reference)")
        lay.addWidget(self.tabs, 1)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("evaluateProgress")
        self.progress.setFormat("%v / %m images")
        lay.addWidget(self.progress)
        self.status = QLabel(self)
        self.status.setObjectName("evaluateStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Evaluate", self)
        self.run_button.setObjectName("evaluateRun")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setObjectName("evaluateCancel")
        self.save_button = QPushButton("Save report…", self)
        self.save_button.setObjectName("evaluateSave")
        close = QPushButton("Close", self)
        for b in (self.run_button, self.cancel_button, self.save_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay.addLayout(buttons)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        close.clicked.connect(self.close)
        c = self.controller
        c.progress.connect(self._on_controller_progress)
        c.finished.connect(self._on_controller_finished)
        c.failed.connect(self._on_controller_failed)
        c.cancelled.connect(self._on_controller_cancelled)
        c.saved.connect(self._on_controller_saved)
        c.saveFailed.connect(self.status.setText)
        self.records = reference_images(model)
        self._describe_reference(bool(choices))
        self._set_running(False)

    # -- state --------------------------------------------------------------------------------
    def _describe_reference(self, have_models: bool) -> None:
        if not self.records:
            self.reference_label.setText(
                "No approved images in this project. Approve reviewed images first (Enter): "
                "their accepted, corrected and drawn findings are the reference a model is "
                "scored against."
            )
            return
        n = sum(1 for r in self.records for a in self.model.annotations(r.id) if is_reference(a))
        text = (
            f"Reference: {len(self.records)} approved image(s) with {n} accepted, corrected "
            "or drawn finding(s)."
        )
        if not have_models:
            text += " No model is loaded or installed."
        self.reference_label.setText(text)

    def _set_running(self, running: bool) -> None:
        ready = bool(self.records) and self.model_combo.count() > 0
        self.run_button.setEnabled(ready and not running)
        self.model_combo.setEnabled(not running)
        self.threshold.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(self.evaluation is not None and not running)

    def run(self) -> None:
        """Evaluate the chosen model (button "Evaluate")."""
        choice = self.model_combo.currentData()
        self.records = reference_images(self.model)  # images approved since the dialog opened
        self._describe_reference(self.model_combo.count() > 0)
        if not self.records or not isinstance(choice, ModelChoice):
            self._set_running(False)
            return
        self.evaluation = None
        self.table.setRowCount(0)
        self.confusion.setRowCount(0)
        self.progress.setRange(0, len(self.records))
        self.progress.setValue(0)
        what = "Loading the model…" if choice.card is not None else "Predicting…"
        self.status.setText(what)
        self._set_running(True)
        self.controller.start(choice, self.records, score_threshold=self.threshold.value())

    def save_report(self, folder: Path) -> None:
        """Write the report to ``folder`` in the background; the status line says where."""
        if self.evaluation is not None:
            self.status.setText(f"Saving the report to {folder}…")
            self.controller.save(self.evaluation, Path(folder))

    # -- results ------------------------------------------------------------------------------
    def _show(self, result: ProjectEvaluation) -> None:
        rows = [r for r in result.rows if r.reference or r.detections]
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            values = (
                row.category.replace("_", " "),
                KIND_TEXT[row.kind],
                str(row.reference),
                str(row.detections),
                _num(row.ap),
                _num(row.ap50),
                _num(row.ap75),
                _num(row.precision),
                _num(row.recall),
                _num(row.mask_iou),
                _num(row.dice),
            )
            for j, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row.category if j == 0 else None)
                if j >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self._show_confusion(result.confusion)

    # Any: the confusion matrix as the JSON evaluation report holds it (labels, matrix)
    def _show_confusion(self, confusion: dict[str, Any] | None) -> None:
        if not confusion:
            self.confusion.setRowCount(0)
            self.confusion.setColumnCount(0)
            return
        labels = [str(x).replace("_screw", "").replace("_", " ") for x in confusion["labels"]]
        matrix = confusion["matrix"]
        self.confusion.setRowCount(len(labels))
        self.confusion.setColumnCount(len(labels))
        self.confusion.setHorizontalHeaderLabels(labels)
        self.confusion.setVerticalHeaderLabels(labels)
        for i, line in enumerate(matrix):
            for j, count in enumerate(line):
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.confusion.setItem(i, j, item)
        self.confusion.resizeColumnsToContents()

    def row_texts(self) -> dict[str, dict[str, str]]:
        """Category name -> column title -> the text shown (for tests and copy/paste)."""
        out: dict[str, dict[str, str]] = {}
        for i in range(self.table.rowCount()):
            first = self.table.item(i, 0)
            name = first.data(Qt.ItemDataRole.UserRole) if first is not None else ""
            out[str(name)] = {c: cell_text(self.table, i, j) for j, c in enumerate(COLUMNS)}
        return out

    # -- slots ---------------------------------------------------------------------------------
    def _on_controller_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if done:
            self.status.setText(f"Predicted {done} of {total} image(s)…")
        if total and done == total:
            self.status.setText("Computing the metrics…")

    def _on_controller_finished(self, result: object) -> None:
        assert isinstance(result, ProjectEvaluation)
        self.evaluation = result
        self._show(result)
        head = f"{result.model_name} {result.model_version} on {result.images} approved image(s)."
        notes = " ".join(f"Note: {w}." for w in result.warnings)
        self.status.setText(f"{head} {notes}".strip())
        self._set_running(False)

    def _on_controller_failed(self, message: str) -> None:
        self.status.setText(message)
        self._set_running(False)

    def _on_controller_cancelled(self) -> None:
        self.status.setText("Evaluation cancelled.")
        self._set_running(False)

    def _on_controller_saved(self, files: object) -> None:
        paths = list(files) if isinstance(files, list) else []
        folder = paths[0].parent if paths else ""
        self.status.setText(f"Saved the report ({len(paths)} files) to {folder}")

    def _on_save_button_clicked(self) -> None:
        folder = existing_directory(self, "Save the evaluation report to", kind="export")
        if folder is not None:
            self.save_report(folder)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.shutdown()
        super().closeEvent(event)


def open_evaluate_dialog(window: MainWindow) -> EvaluateDialog:
    """Show the dialog for ``window``'s project, offering its loaded model and the installed
    cards of its models folder, loaded with its services' model loader."""
    services = window.services
    dialog = EvaluateDialog(
        window.model,
        choices=model_choices(services.models_dir, window.predict.predictor),
        image_path_of=window.store.image_path,
        reader=services.reader,
        load_predictor=evaluation_loader(services.model_loader),
        parent=window,
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
