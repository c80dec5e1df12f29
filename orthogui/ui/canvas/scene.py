"""AnnotationScene: the projection of one image's annotations from the ``ProjectModel``.

It listens to the model's signals and re-syncs only the touched item; it never mutates the model.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsScene

from orthogui.core.annotation import Annotation, ReviewState
from orthogui.core.categories import Category
from orthogui.core.project import ProjectModel
from orthogui.core.visibility import hidden_by_threshold
from orthogui.ui.canvas.image import ImageItem
from orthogui.ui.canvas.items import AnnotationItem, Hit, make_item
from orthogui.ui.canvas.overlay import ShapesOverlay


class AnnotationScene(QGraphicsScene):
    """Holds the image item, one item per annotation of the shown image, and the overlay that
    draws the idle annotation items together."""

    def __init__(self, parent: object | None = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self.image_item = ImageItem()
        self.addItem(self.image_item)
        self.overlay = ShapesOverlay(lambda: self.items_by_id.values())
        self.addItem(self.overlay)
        self.zooming = False
        self.model: ProjectModel | None = None
        self.image_id: str | None = None
        self.items_by_id: dict[str, AnnotationItem] = {}
        self.show_rejected = False
        self.score_threshold = 0.0  # proposals scored below it are hidden (a view setting)
        self.show_labels = True
        self.pixel_size = 1.0

    # -- model wiring ----------------------------------------------------------------------
    def attach(self, model: ProjectModel) -> None:
        if self.model is not None:
            self.model.annotation_added.disconnect(self._on_model_annotation_added)
            self.model.annotation_changed.disconnect(self._on_model_annotation_changed)
            self.model.annotation_removed.disconnect(self._on_model_annotation_removed)
        self.model = model
        model.annotation_added.connect(self._on_model_annotation_added)
        model.annotation_changed.connect(self._on_model_annotation_changed)
        model.annotation_removed.connect(self._on_model_annotation_removed)
        self.show_image(None)

    def show_image(self, image_id: str | None) -> None:
        for item in self.items_by_id.values():
            self.removeItem(item)
        self.items_by_id.clear()
        self.overlay.invalidate()
        self.image_id = image_id
        if self.model is None or image_id is None:
            return
        for ann in self.model.annotations(image_id):
            self._add(ann)

    def category(self, name: str) -> Category | None:
        if self.model is None or name not in self.model.categories:
            return None
        return self.model.categories.by_name(name)

    def _add(self, ann: Annotation) -> None:
        item = make_item(ann, self.category(ann.category))
        item.set_pixel_size(self.pixel_size)
        item.set_label_shown(self.show_labels)
        self._apply_visibility(item)
        self.items_by_id[ann.id] = item
        self.addItem(item)
        item.set_overlay(self.overlay)

    def _apply_visibility(self, item: AnnotationItem) -> None:
        visible = self.show_rejected or item.ann.review.state != ReviewState.REJECTED
        visible = visible and not hidden_by_threshold(item.ann, self.score_threshold)
        if visible != item.isVisible():
            item.setVisible(visible)
            if item.delegated:
                self.overlay.invalidate()

    def _on_model_annotation_added(self, ann: Annotation) -> None:
        if ann.image_id == self.image_id and ann.id not in self.items_by_id:
            self._add(ann)

    def _on_model_annotation_changed(self, before: Annotation, after: Annotation) -> None:
        item = self.items_by_id.get(after.id)
        if item is None:
            return
        if item.ann.is_box != after.is_box:
            self._remove(item)
            del self.items_by_id[after.id]
            self._add(after)
            return
        item.set_annotation(after, self.category(after.category))
        self._apply_visibility(item)

    def _on_model_annotation_removed(self, ann: Annotation) -> None:
        item = self.items_by_id.pop(ann.id, None)
        if item is not None:
            self._remove(item)

    def _remove(self, item: AnnotationItem) -> None:
        self.removeItem(item)
        item.set_overlay(None)
        self.overlay.invalidate()

    # -- queries used by the tools -------------------------------------------------------------
    def set_show_rejected(self, show: bool) -> None:
        self.show_rejected = show
        for item in self.items_by_id.values():
            self._apply_visibility(item)

    def set_score_threshold(self, threshold: float) -> None:
        self.score_threshold = threshold
        for item in self.items_by_id.values():
            self._apply_visibility(item)

    def set_show_labels(self, show: bool) -> None:
        self.show_labels = show
        self.overlay.set_show_labels(show)
        for item in self.items_by_id.values():
            item.set_label_shown(show)

    def set_pixel_size(self, px: float) -> None:
        self.pixel_size = px
        self.overlay.set_pixel_size(px)
        for item in self.items_by_id.values():
            item.set_pixel_size(px)

    def set_zooming(self, zooming: bool) -> None:
        """During an interactive zoom, cached layers may show their last scale; when the zoom
        pauses they render at the new one."""
        if zooming == self.zooming:
            return
        self.zooming = zooming
        self.overlay.zooming = self.image_item.zooming = zooming
        if not zooming:
            self.overlay.update()
            self.image_item.update()

    def hit_at(self, x: float, y: float, tol: float) -> tuple[AnnotationItem, Hit] | None:
        """Topmost visible annotation under a point: selected items first, then by z order."""
        found: list[tuple[AnnotationItem, Hit]] = []
        for gi in self.items(QRectF(x - tol, y - tol, 2 * tol, 2 * tol)):
            if isinstance(gi, AnnotationItem) and gi.isVisible():
                h = gi.hit(x, y, tol)
                if h is not None:
                    found.append((gi, h))
        if not found:
            return None
        # Handles of a selected item win over bodies of others, then edges over bodies.
        order = {"vertex": 0, "handle": 0, "midpoint": 1, "edge": 2, "body": 3}
        # Among bodies the smallest wins, so a shape inside another stays reachable.
        found.sort(key=lambda t: (order[t[1].kind], -t[0].zValue(), t[0].shape_value.bbox().area))
        return found[0]
