"""File → Open project swaps the window's services whole: the new project's window loads models
with the same model loader, through every Model-menu action and a fine-tune's hot-swap."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMenu

from orthogui.core.predictor import Predictor
from orthogui.io.store import ProjectStore
from orthogui.ml.card import ModelCard
from orthogui.ui.dialogs.evaluate import EvaluateDialog
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import show_window
from tests.ui.test_training_dock import FAKE_TRAIN, CardPredictor, make_window, write_card

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


class RecordingLoader:
    """The model loader the app would pass, recording each card, threshold and thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None, str]] = []

    def __call__(self, card: ModelCard, /, *, score_threshold: float | None = None) -> Predictor:
        self.calls.append((card.version, score_threshold, threading.current_thread().name))
        return CardPredictor(card)


def switch_to(qtbot, old: MainWindow, project: Path, monkeypatch: pytest.MonkeyPatch) -> MainWindow:  # type: ignore[no-untyped-def]
    """File → Open project on ``old``, choosing ``project`` in the (patched) file dialog."""
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(project), ""))
    )
    old.action_map["open_project"].trigger()
    (new,) = [w for w in MainWindow.windows if Path(w.store.path) == project]
    return show_window(qtbot, new)


def project_with_approved(qtbot, folder: Path, card: ModelCard, approved: int) -> Path:  # type: ignore[no-untyped-def]
    """A project of 6 images, ``approved`` of them approved with a reviewed finding; closed."""
    win = make_window(qtbot, folder, CardPredictor(card), images=6, approved=approved)
    win.close()
    return folder / "p.orthogui"


def first_window(qtbot, tmp_path: Path, loader: RecordingLoader, card: ModelCard) -> MainWindow:  # type: ignore[no-untyped-def]
    store = ProjectStore.create(tmp_path / "first.orthogui")
    services = Services(store, user="tester", model_loader=loader)
    return show_window(qtbot, MainWindow(services, predictor=CardPredictor(card)))


def test_every_model_menu_action_works_after_open_project(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("ORTHOGUI_MODELS_DIR", str(models))
    card1, card2 = write_card(models), write_card(models, "2")
    project = project_with_approved(qtbot, tmp_path / "b", card1, approved=2)
    loader = RecordingLoader()
    old = first_window(qtbot, tmp_path, loader, card1)

    win = switch_to(qtbot, old, project, monkeypatch)
    assert win is not old and not old.isVisible()
    assert win.services.model_loader is loader and win.services.store.path == project
    assert win.predict.predictor is not None and win.predict.predictor.model_version == "1"
    menu = win.findChild(QMenu, "menu_Model")
    assert menu is not None
    used: set[str] = set()

    # An installed version from the menu's list: loaded off the GUI thread by the loader.
    win.models.refresh()
    (entry,) = [a for a in win.models.entries() if a.text().startswith("m 2 ")]
    entry.trigger()
    qtbot.waitUntil(lambda: win.predict.predictor.model_version == "2", timeout=10000)
    used.add(entry.objectName())
    assert loader.calls[-1][:2] == ("2", None) and loader.calls[-1][2] != "MainThread"

    # Load model card… from anywhere on disk.
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(card1.source), ""))
    )
    win.action_map["load_model_card"].trigger()
    qtbot.waitUntil(lambda: win.predict.predictor.model_version == "1", timeout=10000)
    used.add(win.action_map["load_model_card"].objectName())

    # Pre-annotation, by its keys: current image, selected images, whole queue, cancel.
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.step_image(+1)
    for key, mods, name in (
        (Qt.Key.Key_M, CTRL, "predict_current"),
        (Qt.Key.Key_M, CTRL | ALT, "predict_selected"),
        (Qt.Key.Key_M, CTRL | SHIFT, "predict_queue"),
    ):
        with qtbot.waitSignal(win.predict.finished, timeout=10000):
            qtbot.keyClick(win.canvas, key, mods)
        used.add(win.action_map[name].objectName())
    qtbot.keyClick(win.canvas, Qt.Key.Key_Period, CTRL)
    used.add(win.action_map["predict_cancel"].objectName())
    assert "Pre-annotat" in win.statusBar().currentMessage() or not win.predict.busy()

    # Training… shows the dock of the new project.
    qtbot.keyClick(win.canvas, Qt.Key.Key_T, CTRL | SHIFT)
    qtbot.waitUntil(win.training.dock.isVisible, timeout=5000)
    used.add(win.action_map["training"].objectName())
    assert win.training.project_dir == project.parent

    # Evaluate model… on an installed card: loaded with the AP threshold by the same loader.
    win.action_map["evaluate_model"].trigger()
    used.add(win.action_map["evaluate_model"].objectName())
    dialog = win.findChild(EvaluateDialog)
    assert dialog is not None
    labels = [dialog.model_combo.itemText(i) for i in range(dialog.model_combo.count())]
    dialog.model_combo.setCurrentIndex(labels.index(f"m 2 — {card2.source.name}"))  # type: ignore[union-attr]
    with qtbot.waitSignal(dialog.controller.finished, timeout=30000):
        dialog.run()
    assert loader.calls[-1][:2] == ("2", 0.05)
    assert dialog.evaluation is not None and dialog.evaluation.images == 2
    dialog.close()

    # Every action of the Model menu was used (separators and disabled notes aside).
    offered = {
        a.objectName()
        for a in menu.actions()
        if not a.isSeparator()
        and a.isEnabled()
        and a.objectName().startswith("action_")
        and a.objectName() != "action_model_m_1"  # the version in use when the menu was read
    }
    assert offered <= used | {entry.objectName()}, offered - used


def test_fine_tune_after_open_project_hot_swaps_with_the_new_windows_loader(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("ORTHOGUI_MODELS_DIR", str(models))
    card1 = write_card(models)
    project = project_with_approved(qtbot, tmp_path / "b", card1, approved=5)
    loader = RecordingLoader()
    old = first_window(qtbot, tmp_path, loader, card1)
    win = switch_to(qtbot, old, project, monkeypatch)

    ctl, panel = win.training, win.training.panel
    assert ctl.load_predictor is loader
    ctl.command_for = lambda job: [sys.executable, "-c", FAKE_TRAIN, str(job)]
    win.action_map["training"].trigger()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress.maximum() == 3, timeout=20000)
    (root,) = (project.parent / "training").glob("*T*Z")  # the new project's own snapshot
    (root / "go").touch()
    qtbot.waitUntil(lambda: win.predict.predictor.model_version == "2", timeout=20000)
    assert [c[:2] for c in loader.calls] == [("2", None)]
    assert loader.calls[0][2] != "MainThread"
    assert "m 2" in win.statusBar().currentMessage()
