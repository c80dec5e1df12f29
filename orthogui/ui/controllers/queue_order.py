"""How "Sort: uncertainty" orders the review queue (View → Uncertainty order): by each image's
most doubtful finding, by the doubt summed over all its findings, or in diverse batches; the
choice is remembered in the settings. The orders themselves are ``orthogui.ml.scoring``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from orthogui.ml.scoring import DEFAULT_STRATEGY, DIVERSE, QUEUE_STRATEGIES, SUMMED

if TYPE_CHECKING:
    from orthogui.ui.main_window import MainWindow

ORDER_KEY = "queue/uncertainty_order"

LABELS = {
    "uncertainty": "&Most doubtful finding",
    SUMMED: "&Summed doubt over all findings",
    DIVERSE: "&Diverse batches",
}
TIPS = {
    "uncertainty": "Images whose most doubtful finding is least sure first",
    SUMMED: "Images with the most doubt over all their findings first (crowded films rise)",
    DIVERSE: "Among the most uncertain images, each next one unlike those above it",
}


class QueueOrderMenu:
    """The View menu's "Uncertainty order" submenu: one checkable action per strategy of
    ``QUEUE_STRATEGIES``; the default is marked. Choosing one sorts the queue by it."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        view = win.findChild(QMenu, "menu_View")
        assert view is not None
        self.menu = QMenu("Uncertainty &order", view)
        self.menu.setObjectName("menu_uncertainty_order")
        view.addMenu(self.menu)
        self.group = QActionGroup(self.menu)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for name in QUEUE_STRATEGIES:
            text = LABELS.get(name, name) + (" (default)" if name == DEFAULT_STRATEGY else "")
            action = QAction(text, self.menu)
            action.setObjectName(f"action_order_{name}")
            action.setCheckable(True)
            action.setData(name)
            action.setStatusTip(TIPS.get(name, ""))
            self.group.addAction(action)
            self.menu.addAction(action)
            self.actions[name] = action
        settings = win.settings
        saved = settings.value(ORDER_KEY, DEFAULT_STRATEGY) if settings is not None else None
        chosen = saved if isinstance(saved, str) and saved in self.actions else DEFAULT_STRATEGY
        self.actions[chosen].setChecked(True)
        win.queue_panel.set_strategy(chosen)
        self.group.triggered.connect(self._on_group_triggered)

    @classmethod
    def install(cls, win: MainWindow) -> QueueOrderMenu:
        return cls(win)

    @property
    def strategy(self) -> str:
        return self.win.queue_panel.strategy

    def _on_group_triggered(self, action: QAction) -> None:
        name = str(action.data())
        panel = self.win.queue_panel
        panel.set_strategy(name)
        combo = panel.sort_combo
        combo.setCurrentIndex(combo.findData("uncertainty"))  # choosing an order sorts by it
        if self.win.settings is not None:
            self.win.settings.setValue(ORDER_KEY, name)
