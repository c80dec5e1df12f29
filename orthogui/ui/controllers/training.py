"""Training in the main window: the dock with the ``TrainingPanel``, a fine-tuning job made
from the open project off the GUI thread, the hot-swap of a promoted model, and re-attaching
to a worker that outlived an earlier session (``<project folder>/training/<stem>.running.json``).

``TrainingController(window)`` is the one call the main window makes; models are loaded with
the window's ``Services.model_loader``, so after File → Open project the new window's loader
is used.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QDockWidget

from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageStatus
from orthogui.ml.card import ModelCard, ModelError, load_card
from orthogui.training.launcher import RunRecord, TrainingRun, load_record, save_record
from orthogui.training.prepare import (
    FineTuneRequest,
    NotReady,
    PreparedJob,
    check_approved_reviewed,
    check_categories,
    check_ready,
    choose_models_dir,
    freeze_approved,
    prepare_fine_tune,
)
from orthogui.training.protocol import Event
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.locations import user_models_dir
from orthogui.ui.services import predictor_card
from orthogui.ui.training.panel import TrainingPanel

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

CommandFor = Callable[[Path], list[str]]  # job file -> worker command line (tests, torchrun)
PredictorLoader = Callable[[ModelCard], Predictor]  # card -> loaded predictor (worker thread)
MESSAGE_MS = 15000


def run_record_path(project_file: Path) -> Path:
    """Where the running worker of a project is recorded."""
    return project_file.parent / "training" / f"{project_file.stem}.running.json"


class TrainingController(QObject):
    """Owns the training dock of one main window.

    Parameters
    ----------
    window
        The ``MainWindow`` (its store, model, ``predict`` controller, actions, status bar).
    command_for
        Worker command line for a job file; default: ``python -m orthogui.training.worker``.
    load_predictor
        Loads a card into a predictor (called on a worker thread); default: the window's
        ``services.model_loader`` (the GUI imports no torch).
    """

    def __init__(
        self,
        window: MainWindow,
        *,
        command_for: CommandFor | None = None,
        load_predictor: PredictorLoader | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        project_file = Path(window.store.path)
        self.project_dir = project_file.parent
        self.record_path = run_record_path(project_file)
        self.command_for = command_for
        self.load_predictor: PredictorLoader = load_predictor or window.services.model_loader
        self._closed = False
        card = self.current_card()
        self.panel = TrainingPanel(
            models_dir=choose_models_dir(card, self.project_dir, user_dir=user_models_dir()),
            model_name=card.name if card else "",
            can_start=True,
        )
        self.dock = QDockWidget("Training", window)
        self.dock.setObjectName("TrainingDock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.action = window.action_map.get("training")
        if self.action is not None:
            self.action.toggled.connect(self._on_action_toggled)
            self.dock.visibilityChanged.connect(self._on_dock_visibilityChanged)
        self._futures = BackgroundJobs(self, name="training")
        self._futures.finished.connect(self._on_futures_finished)
        self._futures.failed.connect(self._on_futures_failed)
        self.panel.startRequested.connect(self.fine_tune)
        self.panel.currentModelChanged.connect(self.load_model)
        self.panel.bridge.runEvent.connect(self._on_run_event)
        window.installEventFilter(self)
        self.reattach()

    # -- the model ------------------------------------------------------------------------
    def current_card(self) -> ModelCard | None:
        """The card of the model the window pre-annotates with (None: none, or not a card)."""
        return predictor_card(self.window.predict.predictor)

    def _say(self, text: str, *, panel: bool = True) -> None:
        self.window.statusBar().showMessage(text, MESSAGE_MS)
        if panel:
            self.panel.show_message(text)

    # -- fine-tune ------------------------------------------------------------------------
    def fine_tune(self) -> None:
        """Snapshot the approved images and start a worker on them (both off the GUI thread
        but the start itself); a project that cannot train gets the reason, nothing starts."""
        model = self.window.model
        card = self.current_card()
        approved = sum(1 for r in model.images() if r.status is ImageStatus.APPROVED)
        try:
            check_ready(approved, card)
            check_approved_reviewed(model)
            assert card is not None
            check_categories(model, card)
        except NotReady as exc:
            self._say(str(exc))
            return
        assert card is not None
        copy, paths = freeze_approved(model, self.window.store.image_path)
        models_dir = choose_models_dir(card, self.project_dir, user_dir=user_models_dir())
        self.panel.set_model(models_dir, card.name)
        request = FineTuneRequest(copy, paths, self.project_dir, card, models_dir)
        self.panel.set_preparing(f"writing a snapshot of {approved} approved images…")
        self._futures.submit("prepare", prepare_fine_tune, request)

    def _launch(self, prepared: PreparedJob) -> None:
        events = prepared.events
        offset = events.stat().st_size if events.is_file() else 0
        command = self.command_for(prepared.job) if self.command_for is not None else None
        try:
            self.panel.start(prepared.job, command=command)
        except (OSError, RuntimeError) as exc:
            self._say(f"Cannot start the training worker for {prepared.job}: {exc}")
            return
        run = self.panel.bridge.run
        assert isinstance(run, TrainingRun) and run.pid is not None
        record = RunRecord(
            pid=run.pid,
            job=prepared.job,
            events=events,
            events_offset=offset,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        try:
            save_record(record, self.record_path)
        except OSError as exc:  # training goes on; only re-attaching after a restart is lost
            self._say(f"Cannot write {self.record_path} ({exc.strerror or exc})", panel=False)
        self._say(
            f"Fine-tuning on {prepared.train_images} images, "
            f"{prepared.val_images} held out to judge the new version",
            panel=False,
        )

    # -- re-attach ------------------------------------------------------------------------
    def reattach(self) -> bool:
        """Follow the worker an earlier session of this project started, if it is recorded.

        Its events file is read from the start: the panel shows the progress so far, then
        follows; a worker that has ended meanwhile shows its last event.
        """
        try:
            record = load_record(self.record_path)
        except ValueError as exc:
            self._say(f"{exc}: ignored")
            self.record_path.unlink(missing_ok=True)
            return False
        if record is None:
            return False
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, ModelError):
            job = json.loads(record.job.read_text(encoding="utf-8"))  # whose versions to list
            self.panel.set_model(Path(job["models_dir"]), load_card(job["start_card"]).name)
        self.panel.attach(record)
        self.dock.show()
        return True

    def _on_run_event(self, event: Event) -> None:
        if event.terminal:
            with contextlib.suppress(OSError):
                self.record_path.unlink(missing_ok=True)

    # -- hot-swap -------------------------------------------------------------------------
    def load_model(self, card_path: Path) -> None:
        """Load the card at ``card_path`` on a worker thread and pre-annotate with it."""
        try:
            card = load_card(card_path)
        except (ModelError, OSError) as exc:
            self._say(f"Cannot load the new model: {exc}", panel=False)
            return
        current = self.current_card()
        if current is not None and (current.name, current.version) == (card.name, card.version):
            return
        self._say(f"Loading {card.name} {card.version}…", panel=False)
        self._futures.submit(("model", card.version), self.load_predictor, card)

    def _swap(self, predictor: Predictor) -> None:
        name = f"{predictor.model_name} {predictor.model_version}"
        self.window.predict.set_predictor(predictor)
        self._say(f"Pre-annotating with {name} from now on", panel=False)

    # -- slots ----------------------------------------------------------------------------
    def _on_futures_finished(self, key: object, result: object) -> None:
        if self._closed:  # the window closed while this ran: start nothing, swap nothing
            return
        if key == "prepare":
            assert isinstance(result, PreparedJob)
            self._launch(result)
        else:
            assert isinstance(result, Predictor)
            self._swap(result)

    def _on_futures_failed(self, key: object, exc: object) -> None:
        if key == "prepare":
            why = str(exc) if isinstance(exc, NotReady) else f"Cannot make the training job: {exc}"
            self._say(why)
        else:
            self._say(f"Cannot load the new model: {exc}", panel=False)

    def _on_action_toggled(self, checked: bool) -> None:
        self.dock.setVisible(checked)
        if checked:
            self.dock.raise_()

    def _on_dock_visibilityChanged(self, _visible: bool) -> None:
        if self.action is not None:
            self.action.setChecked(not self.dock.isHidden())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return super().eventFilter(watched, event)

    def shutdown(self) -> None:
        """The window closes: the worker goes on (and stays recorded); stop following it."""
        self._closed = True
        self.panel.bridge.detach()
        self._futures.shutdown()
