"""``TrainingPanel``: start/stop a fine-tuning run, its progress, ETA and loss curve, and the
model versions with their metrics (promote the candidate, roll back the current version)."""

from __future__ import annotations

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
from orthogui.training.job import TrainingJob, load_job
from orthogui.training.launcher import RunRecord
from orthogui.training.promotion import (
    decide_promotion,
    list_versions,
    promote_candidate,
    rollback,
)
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

START_TEXT = "Fine-tune on approved images"
HELD_OUT = "this run's held-out images"


def _eta(seconds: float) -> str:
    s = int(max(seconds, 0))
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


class TrainingPanel(QWidget):
    """The panel.

    The start button emits ``startRequested`` (the training controller makes the job off the
    GUI thread and calls ``start``); ``models_changed`` fires after promote/roll back/finish;
    ``currentModelChanged(Path)`` names the card that is now current (a promoted run, a
    promoted candidate, a roll back) so the app can load it.
    """

    models_changed = Signal()
    startRequested = Signal()
    currentModelChanged = Signal(object)  # Path of the current card

    def __init__(
        self,
        *,
        models_dir: Path,
        model_name: str,
        can_start: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.models_dir = Path(models_dir)
        self.model_name = model_name
        self.can_start = can_start
        self.bridge = TrainingBridge(self)
        self.candidate_card: Path | None = None
        self.candidate_wins = False  # the gate's verdict on the run's own held-out metrics
        self._gate = TrainingJob(snapshot=Path(), output=Path())  # primary metric, tolerance
        self._held_out: dict[str, dict[str, float]] = {}  # "current"/"candidate" -> metrics
        self._preparing = False
        self._running = False  # from start/attach until the run's last event
        self._stopping = False
        self.start_button = QPushButton(START_TEXT)
        self.start_button.setObjectName("training_start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("training_stop")
        self.progress = QProgressBar()
        self.eta_label = QLabel("ETA –")
        self.status_label = QLabel("idle")
        self.status_label.setWordWrap(True)
        self.plot = LossPlot()
        self.versions = QTableWidget(0, 3)
        self.versions.setHorizontalHeaderLabels(["version", "segm AP", "bbox AP"])
        self.versions.setToolTip(
            "Versions: AP on each version's own test set (its card). The last run: AP of the "
            "candidate and the current model on the run's held-out images, as the gate compared."
        )
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
        self.bridge.runEvent.connect(self._on_bridge_runEvent)
        self._update_buttons()
        self.refresh_versions()

    # -- actions --------------------------------------------------------------------------
    def start(self, job: Path, *, command: list[str] | None = None) -> None:
        """Run the worker on ``job`` (``command`` overrides the worker command line)."""
        self._begin("starting…", job)
        try:
            self.bridge.start(job, command=command)
            self._running = True
        finally:
            self._update_buttons()

    def attach(self, record: RunRecord) -> None:
        """Follow a worker started by an earlier session (its events file, from the start)."""
        self._begin(f"re-attached to the running worker (pid {record.pid})…", record.job)
        try:
            self.bridge.attach(record)
            self._running = True
        finally:
            self._update_buttons()

    @property
    def running(self) -> bool:
        """A run was started or attached and its last event has not arrived yet."""
        return self._running

    def _begin(self, status: str, job: Path) -> None:
        self._preparing = self._stopping = False
        self._held_out, self.candidate_wins = {}, False
        try:
            self._gate = load_job(job)
        except (OSError, ValueError):  # unreadable job: the gate's defaults
            self._gate = TrainingJob(snapshot=Path(), output=Path())
        self.plot.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status_label.setText(status)

    def set_model(self, models_dir: Path, model_name: str) -> None:
        """The model whose versions are listed (after the app loaded another one)."""
        self.models_dir, self.model_name = Path(models_dir), model_name
        self.refresh_versions()

    def set_preparing(self, text: str) -> None:
        """The job is being made (snapshot): say so, and do not offer a second start."""
        self._preparing = True
        self.status_label.setText(text)
        self._update_buttons()

    def show_message(self, text: str) -> None:
        """A message instead of a run (e.g. why fine-tuning cannot start)."""
        self._preparing = False
        self.status_label.setText(text)
        self._update_buttons()

    def refresh_versions(self) -> None:
        """The versions (AP from their cards), then the last run's held-out comparison."""
        cards = list_versions(self.models_dir, self.model_name) if self.models_dir.is_dir() else []
        rows = [
            (card.version + (" (current)" if i == 0 else ""), card.metrics)
            for i, card in enumerate(reversed(cards))  # newest (current) first
        ]
        names = {"candidate": "candidate", "current": "current model"}
        rows += [(f"{names[k]} on {HELD_OUT}", m) for k, m in self._held_out.items()]
        primary = self._gate.primary_metric  # the metric the gate compares, first
        self.versions.setHorizontalHeaderLabels(["version", primary.replace("_", " "), "bbox AP"])
        self.versions.setRowCount(len(rows))
        for row, (name, metrics) in enumerate(rows):
            cells = [
                name,
                f"{metrics.get(primary, float('nan')):.3f}",
                f"{metrics.get('bbox_AP', float('nan')):.3f}",
            ]
            for col, text in enumerate(cells):
                self.versions.setItem(row, col, QTableWidgetItem(text))
        self.rollback_button.setEnabled(len(cards) > 1)
        self.promote_button.setEnabled(self.candidate_card is not None and self.candidate_wins)

    def _judge(self) -> bool:
        """Re-run the gate on the held-out metrics the run reported (the table's last rows):
        whether the kept candidate may still be promoted by hand."""
        gate = self._gate
        decision = decide_promotion(
            self._held_out.get("current"),
            self._held_out.get("candidate", {}),
            gate.tolerance,
            primary=gate.primary_metric,
        )
        return decision.promote

    def _update_buttons(self) -> None:
        running = self._running
        self.start_button.setEnabled(self.can_start and not running and not self._preparing)
        self.stop_button.setEnabled(running and not self._stopping)

    # -- slots ----------------------------------------------------------------------------
    @Slot()
    def _on_start_button_clicked(self) -> None:
        if self.can_start and not self._running and not self._preparing:
            self.startRequested.emit()

    @Slot()
    def _on_stop_button_clicked(self) -> None:
        if not self._running or self._stopping:
            return
        self._stopping = True
        self.bridge.request_stop()  # returns at once: waiting and killing run on a thread
        self.status_label.setText("stopping… (the worker writes a checkpoint first)")
        self._update_buttons()

    @Slot()
    def _on_promote_button_clicked(self) -> None:
        if self.candidate_card is None:
            return
        if not self.candidate_wins:  # the button is disabled; a queued click changes nothing
            return
        card = promote_candidate(load_card(self.candidate_card), self.models_dir)
        self.status_label.setText(f"promoted version {card.version}")
        self.candidate_card, self.candidate_wins = None, False
        self.refresh_versions()
        self.models_changed.emit()
        if card.source is not None:
            self.currentModelChanged.emit(card.source)

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
        if card.source is not None:
            self.currentModelChanged.emit(card.source)

    @Slot(object)
    def _on_bridge_runEvent(self, event: Event) -> None:
        if event.terminal:
            self._running = self._stopping = False
        if isinstance(event, Started):
            self.progress.setRange(0, event.total_steps)
            self.progress.setValue(event.start_step)
            if not self._stopping:
                self.status_label.setText(
                    f"training on {event.device} ({event.train_images} images)"
                )
        elif isinstance(event, Progress):
            self.progress.setRange(0, event.total_steps)
            self.progress.setValue(event.step)
            self.eta_label.setText(f"ETA {_eta(event.eta_s)}")
            self.plot.add(event.step, event.loss)
        elif isinstance(event, Evaluated):
            self._held_out[event.model] = dict(event.metrics)
            ap = event.metrics.get("segm_AP", float("nan"))
            self.status_label.setText(f"{event.model} segm AP {ap:.3f} at step {event.step}")
        elif isinstance(event, Finished):
            self.eta_label.setText("ETA –")
            if event.promoted:
                self.status_label.setText(f"version {event.version} promoted: {event.reason}")
                self.candidate_card = None
            else:
                if event.metrics:
                    self._held_out.setdefault("candidate", dict(event.metrics))
                self.candidate_wins = self._judge()
                self.status_label.setText(
                    f"kept as candidate: {event.reason} (measured on {HELD_OUT}: the table's "
                    "last rows; the version rows show each card's own test set)"
                )
                self.candidate_card = Path(event.card)
            self.refresh_versions()
            self.models_changed.emit()
            if event.promoted:
                self.currentModelChanged.emit(Path(event.card))
        elif isinstance(event, Failed):
            self.eta_label.setText("ETA –")
            if event.kind == "stopped":
                where = f" at step {event.step}" if event.step >= 0 else ""
                saved = f"; checkpoint {event.checkpoint}" if event.checkpoint else ""
                self.status_label.setText(f"stopped{where}{saved}")
            else:
                self.status_label.setText(f"{event.kind}: {event.reason}")
        self._update_buttons()
