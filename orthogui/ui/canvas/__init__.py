"""The image canvas: radiograph display, annotation items projected from the model, and tools."""

from __future__ import annotations

from orthogui.ui.canvas.items import BoxItem, PolygonItem
from orthogui.ui.canvas.scene import AnnotationScene
from orthogui.ui.canvas.view import CanvasView

__all__ = ["AnnotationScene", "BoxItem", "CanvasView", "PolygonItem"]
