"""The model picker of the Model menu: installed model cards (checkable, the active one
checked) and "Load model card…". A model is loaded off the GUI thread and then hot-swapped
into the ``PreannotateController``; a broken card keeps the old model and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from orthogui.core.predictor import Predictor
from orthogui.ml.card import (
    ModelCard,
    ModelCardError,
    ModelError,
    list_cards,
    load_card,
)
from orthogui.ui.bridge import BackgroundJobs
from orthogui.ui.controllers.preannotate import PreannotateController
from orthogui.ui.dialogs.files import open_file_name
from orthogui.ui.locations import user_models_dir as user_models_folder
from orthogui.ui.panels.status import ActiveModelLabel

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

Loader = Callable[[ModelCard], Predictor]
CARD_FILTER = "Model cards (*.json)"


def card_label(card: ModelCard) -> str:
    """Menu text of a card: name, version and architecture."""
    return f"{card.name} {card.version} — {card.architecture}"


class ModelPicker(QObject):
    """Keeps the Model menu's list of models and the status-bar label in step with the
    controller's predictor. ``load`` turns a card into a predictor (tests pass fakes)."""

    failed = Signal(str)  # message naming the card file and the reason

    def __init__(
        self,
        window: QMainWindow,
        controller: PreannotateController,
        menu: QMenu,
        load_action: QAction | None,
        *,
        models_dir: Path,
        load: Loader,
        user_models_dir: Path | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.menu = menu
        self.models_dir = models_dir
        self.user_models_dir = user_models_dir or user_models_folder()
        self.problems: list[ModelCardError] = []
        self.load = load
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.label = ActiveModelLabel(window.statusBar())
        self._loaded_files: dict[Path, ModelCard] = {}  # cards opened with "Load model card…"
        self._entries: list[QAction] = []
        self._token = 0
        self._loading: ModelCard | None = None
        self._jobs = BackgroundJobs(self, name="model-load")
        self._jobs.finished.connect(self._on_jobs_finished)
        self._jobs.failed.connect(self._on_jobs_failed)
        anchor = load_action if load_action is not None else menu.addSeparator()
        assert anchor is not None
        self._anchor: QAction = anchor
        if load_action is not None:
            load_action.triggered.connect(lambda _checked=False: self.choose_card_file())
        menu.insertSeparator(self._anchor)
        menu.aboutToShow.connect(self.refresh)
        controller.modelChanged.connect(self._on_controller_modelChanged)
        jobs = self._jobs
        window.destroyed.connect(lambda *_: jobs.shutdown())
        self.label.show_model(controller.predictor)
        self.refresh()

    # -- menu ------------------------------------------------------------------------------
    def cards(self) -> list[ModelCard]:
        """Installed cards (by name and version), then those loaded from elsewhere."""
        self.problems = []  # unreadable cards, named in the menu
        installed = list_cards(self.models_dir, problems=self.problems)
        # Versions that fine-tuning published into the user's data folder come next.
        if self.user_models_dir.is_dir() and self.user_models_dir != self.models_dir:
            installed += list_cards(self.user_models_dir, problems=self.problems)
        known = {c.source for c in installed}
        return installed + [c for p, c in self._loaded_files.items() if p not in known]

    def entries(self) -> list[QAction]:
        """The menu's model actions, in menu order."""
        return list(self._entries)

    def refresh(self) -> None:
        """Re-list the models folder (a newly published version appears) and check the active
        model."""
        for act in self._entries:
            self.group.removeAction(act)
            self.menu.removeAction(act)
            act.deleteLater()
        self._entries = []
        cards = self.cards()
        for card in cards:
            act = QAction(card_label(card), self)
            act.setObjectName(f"action_model_{card.name}_{card.version}")
            act.setCheckable(True)
            act.setData(card)
            has_weights = card.weights_path.is_file()
            act.setEnabled(has_weights)
            act.setToolTip(str(card.source) + ("" if has_weights else " (weights file missing)"))
            act.setStatusTip(f"Pre-annotate with {card.name} {card.version}")
            act.triggered.connect(lambda _checked=False, c=card: self.choose(c))
            self.group.addAction(act)
            self._entries.append(act)
        if not cards:
            act = QAction(f"No model installed in {self.models_dir}", self)
            act.setObjectName("action_model_none")
            act.setEnabled(False)
            self._entries.append(act)
        for problem in self.problems:  # a broken card is named, never silently missing
            act = QAction(f"Skipped {Path(problem.path).name}: {problem.reason}", self)
            act.setObjectName("action_model_skipped")
            act.setToolTip(str(problem))
            act.setEnabled(False)
            self._entries.append(act)
        for act in self._entries:
            self.menu.insertAction(self._anchor, act)
        self._check_active()

    def _check_active(self) -> None:
        p = self.controller.predictor
        active = (p.model_name, p.model_version) if p is not None else None
        for act in self._entries:
            card = act.data()
            if isinstance(card, ModelCard):
                act.setChecked((card.name, card.version) == active)

    # -- switching ---------------------------------------------------------------------------
    def choose_card_file(self) -> None:
        """ "Load model card…": pick a card JSON anywhere on disk and switch to it."""
        path = open_file_name(
            self.window,
            "Load model card",
            kind="model",
            filter=CARD_FILTER,
            fallback=self.models_dir,
        )
        if path is not None:
            self.load_card_file(path)

    def load_card_file(self, path: Path) -> None:
        """Validate the card at ``path`` and switch to its model (off the GUI thread)."""
        try:
            card = load_card(path)
        except ModelError as exc:
            self._report(f"Model card not loaded: {exc}")
            return
        self.choose(card)

    def choose(self, card: ModelCard) -> None:
        """Switch pre-annotation to ``card``'s model: load it off the GUI thread, then swap.

        The active model stays checked and in use until the new one has loaded; a later
        choice supersedes an earlier one still loading.
        """
        p = self.controller.predictor
        if p is not None and (p.model_name, p.model_version) == (card.name, card.version):
            self._loading = None
            self._token += 1  # a load still running is no longer wanted
            self._check_active()
            self.label.show_model(p)
            return
        self._token += 1
        self._loading = card
        self.label.show_loading(card.name, card.version)
        self.window.statusBar().showMessage(f"Loading model {card.name} {card.version}…")
        self._jobs.submit((self._token, card), self.load, card)
        self._check_active()

    def loading(self) -> bool:
        return self._loading is not None

    def _on_jobs_finished(self, key: object, result: object) -> None:
        token, card = self._unpack(key)
        if token != self._token:
            return
        self._loading = None
        listed = {self.models_dir.resolve(), self.user_models_dir.resolve()}
        if card.source is not None and card.source.parent.resolve() not in listed:
            self._loaded_files[card.source] = card
        assert isinstance(result, Predictor)
        self.controller.set_predictor(result)  # -> modelChanged -> menu and label
        self.window.statusBar().showMessage(f"Model: {card_label(card)}", 8000)

    def _on_jobs_failed(self, key: object, exc: object) -> None:
        token, card = self._unpack(key)
        if token != self._token:
            return
        self._loading = None
        reason = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
        where = card.source or card.name
        self._report(f"Model {card.name} {card.version} ({where}) not loaded: {reason}")

    def _report(self, message: str) -> None:
        """Keep the old model; say why in the status bar and in a (non-blocking) box."""
        self.label.show_model(self.controller.predictor)
        self._check_active()
        keep = self.controller.predictor
        kept = f"{keep.model_name} {keep.model_version}" if keep is not None else "no model"
        text = f"{message}\n\nStill using: {kept}."
        self.window.statusBar().showMessage(message, 15000)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Model not loaded",
            text,
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.setObjectName("modelLoadError")
        box.open()
        self.failed.emit(message)

    def _on_controller_modelChanged(self, predictor: object) -> None:
        self.label.show_model(predictor if isinstance(predictor, Predictor) else None)
        self._check_active()

    @staticmethod
    def _unpack(key: object) -> tuple[int, ModelCard]:
        assert isinstance(key, tuple)
        token, card = key
        return int(token), card


def install_model_menu(window: MainWindow) -> ModelPicker:
    """Add the model picker to ``window``'s Model menu and the active model to its status bar:
    the installed cards of ``window.services.models_dir``, loaded with its model loader."""
    menu = window.findChild(QMenu, "menu_Model")
    assert menu is not None, "the window has no Model menu"
    return ModelPicker(
        window,
        window.predict,
        menu,
        window.action_map.get("load_model_card"),
        models_dir=window.services.models_dir,
        load=window.services.model_loader,
    )
