"""WindowPresets: the file's VOI windows (plus full range) as a menu and a cycle key (W)."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from orthogui.core.radiograph import Radiograph, WindowPreset
from orthogui.io.display import choose_window, value_range


class WindowPresets:
    """Fills ``menu`` with the presets of the shown radiograph; applies them to the canvas."""

    def __init__(self, menu: QMenu, canvas: object) -> None:
        self.menu = menu
        self.canvas = canvas
        self.presets: list[WindowPreset] = []
        self.index = 0
        self.note = ""  # why the image opened in another window than the file's, else ""

    def set_radiograph(self, rg: Radiograph) -> None:
        lo, hi = value_range(rg)
        full = WindowPreset((lo + hi) / 2.0, max(hi - lo, 1.0), "Full range")
        choice = choose_window(rg)
        self.note = choice.note
        first = [choice.window] if choice.note else []  # the window the image opened in
        self.presets = [*first, *rg.windows, full] if rg.windows else [choice.window]
        self.index = 0
        self.menu.clear()
        for i, p in enumerate(self.presets):
            name = p.name or f"Preset {i + 1}"
            act = self.menu.addAction(f"{name}  (C {p.center:g} W {p.width:g})")
            act.triggered.connect(lambda _c=False, k=i: self.apply(k))

    def apply(self, index: int) -> None:
        if self.presets:
            self.index = index % len(self.presets)
            p = self.presets[self.index]
            self.canvas.set_window(p.center, p.width)  # type: ignore[attr-defined]

    def cycle(self) -> None:
        self.apply(self.index + 1)
