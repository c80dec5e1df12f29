"""``TrainingPanel``: start/stop a fine-tuning run, its progress, ETA and loss curve, and the
model versions with their metrics (promote the candidate, roll back the current version)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.ml.card import load_card
from orthogui.training.promotion import list_versions, promote_candidate, rollback
from orthogui.training.protocol import (
    Evaluated,
    Event,
    Failed,
    Finished,
    Progress,
    Started,
)
from orthogui.ui.training.bridge import TrainingBridge
from orthogui.ui.training.plot import LossPlot

JobFactory = Callable[[], Path]


def _eta(seconds: float) -> str:
    s = int(max(seconds, 0))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class TrainingPanel(QWidget):
    """The panel. ``job_factory`` writes a job for the current snapshot and returns its path
    (the main window provides it); ``models_changed`` fires after promote/roll back/finish."""

    models_changed = Signal()

    def __init__(
        self,
        *,
        models_dir: Path,
        model_name: str,
        job_factory: JobFactory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.models_dir = Path(models_dir)
        self.model_name = model_name
        self.job_factory = job_factory
        self.bridge = TrainingBridge(self)
        self.candidate_card: Path | None = None
        self.start_button = QPushButton("Start training")
        self.stop_button = QPushButton("Stop")
        self.progress = QProgressBar()
        self.eta_label = QLabel("ETA –")
        self.status_label = QLabel("idle")
        self.status_label.setWordWrap(True)
        self.plot = LossPlot()
        self.versions = QTableWidget(0, 3)
        self.versions.setHorizontalHeaderLabels(["version", "segm AP", "bbox AP"])
        self.promote_button = QPushButton("Promote candidate")
        self.rollback_button = QPushButton("Roll back")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        versions = QHBoxLayout()
        versions.addWidget(self.promote_button)
        versions.addWidget(self.rollback_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta_label)
        layout.addWidget(self.plot)
        layout.addWidget(self.status_label)
        layout.addWidget(self.versions)
        layout.addLayout(versions)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.promote_button.clicked.connect(self._on_promote_button_clicked)
        self.rollback_button.clicked.connect(self._on_rollback_button_clicked)
        self.bridge.event.connect(self._on_bridge_event)
        self._set_running(False)
        self.refresh_versions()

    # -- actions --------------------------------------------------------------------------
    def start(self, job: Path, *, command: list[str] | None = None) -> None:
        self.plot.clear()
        self.progress.setValue(0)
        self.status_label.setText("starting…")
        self.bridge.start(job, command=command)
        self._set_running(True)

    def refresh_versions(self) -> None:
        cards = list_versions(self.models_dir, self.model_name) if self.models_dir.is_dir() else []
        self.versions.setRowCount(len(cards))
        for row, card in enumerate(reversed(cards)):  # newest (current) first
            cells = [
                card.version + (" (current)" if row == 0 else ""),
                f"{card.metrics.get('segm_AP', float('nan')):.3f}",
                f"{card.metrics.get('bbox_AP', float('nan')):.3f}",
            ]
            for col, text in enumerate(cells):
                self.versions.setItem(row, col, QTableWidgetItem(text))
        self.rollback_button.setEnabled(len(cards) > 1)
        self.promote_button.setEnabled(self.candidate_card is not None)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and self.job_factory is not None)
        self.stop_button.setEnabled(running)

    # -- slots ----------------------------------------------------------------------------
    @Slot()
    def _on_start_button_clicked(self) -> None:
        if self.job_factory is not None:
            self.start(self.job_factory())

    @Slot()
    def _on_stop_button_clicked(self) -> None:
        self.status_label.setText("stopping (checkpointing)…")
        self.bridge.stop()

    @Slot()
    def _on_promote_button_clicked(self) -> None:
        if self.candidate_card is None:
            return
        card = promote_candidate(load_card(self.candidate_card), self.models_dir)
        self.status_label.setText(f"promoted version {card.version}")
        self.candidate_card = None
        self.refresh_versions()
        self.models_changed.emit()

    @Slot()
    def _on_rollback_button_clicked(self) -> None:
        try:
            card = rollback(self.models_dir, self.model_name)
        except ValueError as exc:
            QMessageBox.warning(self, "Roll back", str(exc))
            return
        self.status_label.setText(f"rolled back to version {card.version}")
        self.refresh_versions()
        self.models_changed.emit()

    @Slot(object)
    def _on_bridge_event(self, event: Event) -> None:
        if isinstance(event, Started):
            self.progress.setRange(0, event.total_steps)
            self.progress.setValue(event.start_step)
            self.status_label.setText(f"training on {event.device} ({event.train_images} images)")
        elif isinstance(event, Progress):
            self.progress.setRange(0, event.total_steps)
            self.progress.setValue(event.step)
            self.eta_label.setText(f"ETA {_eta(event.eta_s)}")
            self.plot.add(event.step, event.loss)
        elif isinstance(event, Evaluated):
            ap = event.metrics.get("segm_AP", float("nan"))
            self.status_label.setText(f"{event.model} segm AP {ap:.3f} at step {event.step}")
        elif isinstance(event, Finished):
            self._set_running(False)
            self.eta_label.setText("ETA –")
            if event.promoted:
                self.status_label.setText(f"version {event.version} promoted: {event.reason}")
                self.candidate_card = None
            else:
                self.status_label.setText(f"kept as candidate: {event.reason}")
                self.candidate_card = Path(event.card)
            self.refresh_versions()
            self.models_changed.emit()
        elif isinstance(event, Failed):
            self._set_running(False)
            self.eta_label.setText("ETA –")
            self.status_label.setText(f"{event.kind}: {event.reason}")
