"""Status-bar fields: pixel value, position (px and mm), window, zoom (``StatusReadout``), the
model's progress with Cancel (``PredictionProgress``) and the active model (``ActiveModelLabel``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QStatusBar

from orthogui.core.predictor import Predictor
from orthogui.core.radiograph import Radiograph
from orthogui.ui.services import predictor_card


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.4g}"


class StatusReadout:
    """Permanent labels in a status bar, updated by the window's canvas slots."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.value = QLabel("", bar)
        self.value.setObjectName("statusValue")
        self.position = QLabel("", bar)
        self.position.setObjectName("statusPosition")
        self.window = QLabel("", bar)
        self.window.setObjectName("statusWindow")
        self.zoom = QLabel("", bar)
        self.zoom.setObjectName("statusZoom")
        for lab in (self.value, self.position, self.window, self.zoom):
            lab.setMinimumWidth(90)
            bar.addPermanentWidget(lab)
        self._rg: Radiograph | None = None

    def set_radiograph(self, rg: Radiograph | None) -> None:
        self._rg = rg
        self.clear_cursor()

    def clear_cursor(self) -> None:
        self.value.setText("")
        rg = self._rg
        if rg is None:
            self.position.setText("")
            return
        self.position.setText(f"{rg.columns}×{rg.rows} px · {self.spacing_text(rg)}")

    @staticmethod
    def spacing_text(rg: Radiograph) -> str:
        if rg.pixel_spacing is None:
            return "spacing unknown: lengths in px"
        sy, sx = rg.pixel_spacing
        warn = " (not magnification-corrected)" if rg.spacing_source == "ImagerPixelSpacing" else ""
        return f"{sx:.3g}×{sy:.3g} mm/px from {rg.spacing_source}{warn}"

    def show_cursor(self, x: float, y: float) -> None:
        rg = self._rg
        if rg is None:
            return
        col, row = int(np.floor(x)), int(np.floor(y))
        if not (0 <= row < rg.rows and 0 <= col < rg.columns):
            self.clear_cursor()
            return
        stored = rg.stored[row, col]
        if rg.modality_lut is None and (rg.rescale_slope != 1.0 or rg.rescale_intercept != 0.0):
            modality = float(stored) * rg.rescale_slope + rg.rescale_intercept
            self.value.setText(f"value {_fmt(float(stored))} → {_fmt(modality)}")
        elif rg.modality_lut is not None:
            from orthogui.io.display import modality_values

            modality = float(modality_values(rg, np.array([stored]))[0])
            self.value.setText(f"value {_fmt(float(stored))} → {_fmt(modality)}")
        else:
            self.value.setText(f"value {_fmt(float(stored))}")
        text = f"x {x:.1f} y {y:.1f} px"
        if rg.pixel_spacing is not None:
            sy, sx = rg.pixel_spacing
            text += f" · {x * sx:.1f}, {y * sy:.1f} mm ({rg.spacing_source})"
        else:
            text += " · mm unknown"
        self.position.setText(text)

    def show_window(self, center: float, width: float) -> None:
        self.window.setText(f"C {_fmt(center)} W {_fmt(width)}")

    def show_zoom(self, factor: float) -> None:
        self.zoom.setText(f"zoom {factor * 100:.0f}%")


class PredictionProgress:
    """A progress bar and a Cancel button in the status bar while the model runs."""

    def __init__(self, bar: QStatusBar, controller: object) -> None:
        from PySide6.QtWidgets import QProgressBar, QPushButton

        self.bar = QProgressBar(bar)
        self.bar.setObjectName("predictProgress")
        self.bar.setMaximumWidth(160)
        self.cancel = QPushButton("Cancel", bar)
        self.cancel.setObjectName("predictCancel")
        # Permanent: normal status-bar widgets are hidden by every temporary message.
        bar.addPermanentWidget(self.bar)
        bar.addPermanentWidget(self.cancel)
        self.hide()
        self.cancel.clicked.connect(controller.cancel)  # type: ignore[attr-defined]
        controller.progress.connect(self.show_progress)  # type: ignore[attr-defined]

    def show_progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setFormat(f"model {done}/{total}")
        visible = done < total
        self.bar.setVisible(visible)
        self.cancel.setVisible(visible)

    def hide(self) -> None:
        self.bar.hide()
        self.cancel.hide()


class ActiveModelLabel:
    """The model pre-annotation uses, as "name version" (architecture in the tooltip)."""

    def __init__(self, bar: QStatusBar) -> None:
        self.label = QLabel("", bar)
        self.label.setObjectName("statusModel")
        bar.addPermanentWidget(self.label)
        self.show_model(None)

    def show_model(self, predictor: Predictor | None) -> None:
        if predictor is None:
            self.label.setText("no model")
            self.label.setToolTip("No model loaded: choose one in the Model menu")
            return
        name, version = predictor.model_name, predictor.model_version
        card = predictor_card(predictor)
        arch = card.architecture if card is not None else ""
        self.label.setText(f"{name} {version}")
        self.label.setToolTip(f"Model {name} {version}" + (f" ({arch})" if arch else ""))

    def show_loading(self, name: str, version: str) -> None:
        self.label.setText(f"loading {name} {version}…")
