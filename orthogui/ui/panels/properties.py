"""PropertiesPanel: the selected finding — type, attributes, score, provenance, review.

Shows what the model originally proposed beside the current value, and a screw's length in
mm along its axis. Edits are requested by signals; the window turns them into commands.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QDockWidget, QFormLayout, QLabel, QSlider, QWidget

from orthogui.core.annotation import Annotation, ranked_types
from orthogui.core.categories import CategorySet
from orthogui.core.geometry import length_mm
from orthogui.core.inventory import Spacing


class PropertiesPanel(QDockWidget):
    """Edits of one finding: ``categoryRequested(id, name)``, ``attributeRequested(id, k, v)``,
    and the polygon detail slider: ``simplifyRequested(tolerance_px)`` while it moves,
    ``simplifyFinished()`` when the gesture ends (one undo step per gesture)."""

    categoryRequested = Signal(str, str)
    attributeRequested = Signal(str, str, str)
    simplifyRequested = Signal(float)
    simplifyFinished = Signal()

    SIMPLIFY_STEPS_PER_PX = 10

    def __init__(self, categories: CategorySet, parent: QWidget | None = None) -> None:
        super().__init__("Properties", parent)
        self.setObjectName("PropertiesPanel")
        self.categories = categories
        body = QWidget(self)
        self.form = QFormLayout(body)
        self.category_combo = QComboBox(body)
        self.category_combo.setObjectName("propCategory")
        self.form.addRow("Type", self.category_combo)
        self.attr_combos: dict[str, QComboBox] = {}
        for cat in categories:
            for spec in cat.attributes:
                if spec.name in self.attr_combos or not spec.choices:
                    continue
                combo = QComboBox(body)
                combo.setObjectName(f"propAttr_{spec.name}")
                combo.addItem("—", "")
                for c in spec.choices:
                    combo.addItem(c, c)
                combo.currentIndexChanged.connect(
                    lambda _i, name=spec.name: self._on_attr_combo_currentIndexChanged(name)
                )
                self.attr_combos[spec.name] = combo
                self.form.addRow(spec.name.replace("_", " ").capitalize(), combo)
        self.labels: dict[str, QLabel] = {}
        for key, title in (
            ("score", "Score"),
            ("source", "Made by"),
            ("original", "Model said"),
            ("types", "Type odds"),
            ("review", "Review"),
            ("length", "Length"),
            ("size", "Size"),
        ):
            lab = QLabel("—", body)
            lab.setObjectName(f"prop_{key}")
            lab.setWordWrap(True)
            self.labels[key] = lab
            self.form.addRow(title, lab)
        self.simplify_slider = QSlider(Qt.Orientation.Horizontal, body)
        self.simplify_slider.setObjectName("propSimplify")
        self.simplify_slider.setRange(0, 5 * self.SIMPLIFY_STEPS_PER_PX)  # up to 5 px
        self.simplify_slider.setToolTip("Remove polygon detail: tolerance 0-5 px (one undo step)")
        self.simplify_slider.valueChanged.connect(self._on_simplify_slider_valueChanged)
        self.simplify_slider.sliderReleased.connect(self.simplifyFinished)
        self.form.addRow("Simplify", self.simplify_slider)
        self.setWidget(body)
        self._ann: Annotation | None = None
        self._spacing: Spacing | None = None
        self._spacing_source = "none"
        self.category_combo.currentIndexChanged.connect(self._on_category_combo_currentIndexChanged)
        self.show_annotation(None)

    def set_spacing(self, spacing: Spacing | None, source: str) -> None:
        self._spacing, self._spacing_source = spacing, source
        self.show_annotation(self._ann)

    def annotation(self) -> Annotation | None:
        return self._ann

    def show_annotation(self, ann: Annotation | None) -> None:
        if ann is None or self._ann is None or ann.id != self._ann.id:
            with QSignalBlocker(self.simplify_slider):
                self.simplify_slider.setValue(0)  # a new selection starts from its own detail
        self._ann = ann
        self.simplify_slider.setEnabled(ann is not None and ann.is_polygon)
        enabled = ann is not None
        self.category_combo.setEnabled(enabled)
        with QSignalBlocker(self.category_combo):
            self.category_combo.clear()
            if ann is not None:
                for cat in self._alternatives(ann):
                    key = f" [{cat.shortcut}]" if cat.shortcut else ""
                    self.category_combo.addItem(cat.display_name + key, cat.name)
                self.category_combo.setCurrentIndex(self.category_combo.findData(ann.category))
        allowed = set()
        if ann is not None and ann.category in self.categories:
            allowed = {s.name for s in self.categories.by_name(ann.category).attributes}
        for name, combo in self.attr_combos.items():
            combo.setEnabled(name in allowed)
            with QSignalBlocker(combo):
                value = "" if ann is None else str(ann.attributes.get(name, ""))
                combo.setCurrentIndex(max(combo.findData(value), 0))
        if ann is None:
            for lab in self.labels.values():
                lab.setText("—")
            return
        self.labels["score"].setText("—" if ann.score is None else f"{ann.score:.3f}")
        prov = ann.provenance
        self.labels["source"].setText(
            f"model {prov.model_name} {prov.model_version}".strip()
            if prov.is_model
            else prov.source
        )
        if ann.original_category is None:
            self.labels["original"].setText("— (drawn by hand)")
        else:
            same_shape = ann.original_shape == ann.shape
            self.labels["original"].setText(
                f"{ann.original_category.replace('_', ' ')}; shape "
                + ("unchanged" if same_shape else "edited")
            )
        ranked = ranked_types(ann.attributes)
        odds = [f"{name.replace('_', ' ')} {p:.2f}" for name, p in ranked[:2]]
        self.labels["types"].setText("; runner-up ".join(odds) if odds else "—")
        rv = ann.review
        self.labels["review"].setText(
            rv.state.value + (f" by {rv.by} at {rv.at.replace('T', ' ')}" if rv.by else "")
        )
        mm = length_mm(ann.shape, self._spacing)
        if mm is None:
            self.labels["length"].setText("unknown (no pixel spacing)")
        else:
            warn = (
                " — ImagerPixelSpacing, not magnification-corrected"
                if self._spacing_source == "ImagerPixelSpacing"
                else ""
            )
            self.labels["length"].setText(f"{mm:.1f} mm{warn}")
        bb = ann.shape.bbox()
        self.labels["size"].setText(f"{bb.width:.0f} × {bb.height:.0f} px")

    def _on_simplify_slider_valueChanged(self, value: int) -> None:
        self.simplifyRequested.emit(value / self.SIMPLIFY_STEPS_PER_PX)
        if not self.simplify_slider.isSliderDown():  # keyboard/click step: a gesture of its own
            self.simplifyFinished.emit()

    def _alternatives(self, ann: Annotation) -> list:
        if ann.category not in self.categories:
            return list(self.categories)
        cat = self.categories.by_name(ann.category)
        if cat.group:
            return list(self.categories.group(cat.group))
        return [c for c in self.categories if c.shape == cat.shape and not c.group]

    def _on_category_combo_currentIndexChanged(self, _index: int) -> None:
        name = self.category_combo.currentData()
        if self._ann is not None and name and name != self._ann.category:
            self.categoryRequested.emit(self._ann.id, str(name))

    def _on_attr_combo_currentIndexChanged(self, name: str) -> None:
        value = self.attr_combos[name].currentData()
        if (
            self._ann is not None
            and value is not None
            and value != self._ann.attributes.get(name, "")
        ):
            self.attributeRequested.emit(self._ann.id, name, str(value))
