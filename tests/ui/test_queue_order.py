"""View → Uncertainty order: the user picks how "Sort: uncertainty" orders the queue with real
clicks through the menus; the queue re-sorts, its Unc. column shows the number sorted on, and
the choice is remembered in the settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMenu

from orthogui.core.project import ImageRecord
from orthogui.io.store import ProjectStore
from orthogui.ml.diversity import MASS, WHY
from orthogui.ml.scoring import DEFAULT_STRATEGY, SUMMED
from orthogui.ui.controllers.queue_order import ORDER_KEY
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import FakePredictor, show_window, write_png16

UNC = 3


def project(tmp_path: Path) -> Path:
    """Three scored images: a single doubtful screw (a), six fairly sure screws (b), one
    image scored before the summed doubt was stored (c)."""
    path = tmp_path / "p.orthogui"
    store = ProjectStore.create(path)
    scores = {"a": (0.9, 1.2), "b": (0.5, 5.4), "c": (0.7, None)}
    recs = []
    for n, (name, (value, mass)) in enumerate(scores.items()):
        png = write_png16(tmp_path / f"{name}.png", seed=n, size=256)
        attrs = {WHY: "type unsure"} | ({MASS: mass} if mass is not None else {})
        recs.append(
            ImageRecord(name, str(png), width=256, height=256, uncertainty=value, attributes=attrs)
        )
    store.add_images(recs)
    store.close()
    return path


def window(qtbot, path: Path, settings: QSettings) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(
        Services(ProjectStore.open(path), user="tester", settings=settings),
        predictor=FakePredictor(),
    )
    return show_window(qtbot, win)


def rows(win: MainWindow) -> list[tuple[str, str]]:
    tree = win.queue_panel.tree
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    return [(it.text(0), it.text(UNC)) for it in items if it is not None]


def choose(qtbot, win: MainWindow, text: str) -> None:  # type: ignore[no-untyped-def]
    """View → Uncertainty order → ``text``, with mouse clicks on the menu bar and menus."""
    bar = win.menuBar()
    view = win.findChild(QMenu, "menu_View")
    sub = win.findChild(QMenu, "menu_uncertainty_order")
    assert view is not None and sub is not None
    qtbot.mouseClick(
        bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(view.menuAction()).center()
    )
    qtbot.waitUntil(view.isVisible, timeout=5000)
    qtbot.mouseClick(
        view, Qt.MouseButton.LeftButton, pos=view.actionGeometry(sub.menuAction()).center()
    )
    qtbot.waitUntil(sub.isVisible, timeout=5000)
    action = next(a for a in sub.actions() if a.text().replace("&", "").startswith(text))
    qtbot.mouseClick(sub, Qt.MouseButton.LeftButton, pos=sub.actionGeometry(action).center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=5000)


def test_the_user_picks_the_uncertainty_order(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    path = project(tmp_path)
    win = window(qtbot, path, settings)
    menu = win.queue_order
    assert menu.strategy == DEFAULT_STRATEGY and menu.actions[DEFAULT_STRATEGY].isChecked()
    assert menu.actions[DEFAULT_STRATEGY].text().endswith("(default)")
    assert win.queue_panel.sort_combo.currentData() == "name"

    choose(qtbot, win, "Most doubtful finding")
    assert win.queue_panel.sort_combo.currentData() == "uncertainty"
    assert rows(win) == [("a.png", "0.90"), ("c.png", "0.70"), ("b.png", "0.50")]
    assert settings.value(ORDER_KEY) == "uncertainty"

    choose(qtbot, win, "Summed doubt")
    # Sorted by uncertainty now, by the summed doubt; c has none stored: after, by its value.
    assert win.queue_panel.sort_combo.currentData() == "uncertainty"
    assert menu.strategy == SUMMED and menu.actions[SUMMED].isChecked()
    assert rows(win) == [("b.png", "5.40"), ("a.png", "1.20"), ("c.png", "0.70")]
    assert settings.value(ORDER_KEY) == SUMMED

    choose(qtbot, win, "Most doubtful finding")
    win.close()

    again = window(qtbot, path, settings)  # remembered
    assert again.queue_order.strategy == "uncertainty"
    assert again.queue_order.actions["uncertainty"].isChecked()
    combo = again.queue_panel.sort_combo
    combo.setCurrentIndex(combo.findData("uncertainty"))
    assert [name for name, _ in rows(again)] == ["a.png", "c.png", "b.png"]
    again.close()

    settings.setValue(ORDER_KEY, "no-such-order")  # a stale or edited setting: the default
    third = window(qtbot, path, settings)
    assert third.queue_order.strategy == DEFAULT_STRATEGY
    third.close()
