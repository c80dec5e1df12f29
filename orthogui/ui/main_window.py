"""MainWindow: the review workbench — canvas in the centre, queue/findings/properties docks.

Composition and wiring only: review rules live in ``core.reviewer``, loading in
``controllers.loader``, pre-annotation in ``controllers.preannotate``, keys in ``actions``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMenu

from orthogui.core.annotation import Annotation
from orthogui.core.history import HistoryEvent
from orthogui.core.inventory import Spacing, record_spacing
from orthogui.core.patient import with_display_facts
from orthogui.core.predictor import Predictor
from orthogui.core.project import ImageStatus
from orthogui.core.radiograph import Radiograph
from orthogui.core.review import set_attributes, set_category
from orthogui.core.reviewer import Reviewer
from orthogui.ui.actions import add_category_actions, build_actions
from orthogui.ui.canvas import CanvasView
from orthogui.ui.controllers.approval import ApprovalController
from orthogui.ui.controllers.dataset_io import DatasetIOController
from orthogui.ui.controllers.loader import ImageLoader
from orthogui.ui.controllers.logs import install_help_menu
from orthogui.ui.controllers.models import install_model_menu
from orthogui.ui.controllers.pacs import PacsController
from orthogui.ui.controllers.patient import PatientDisplay
from orthogui.ui.controllers.preannotate import PreannotateController
from orthogui.ui.controllers.presets import WindowPresets
from orthogui.ui.controllers.queue_order import QueueOrderMenu
from orthogui.ui.controllers.scan import FolderScanController
from orthogui.ui.controllers.session import ResumeSession
from orthogui.ui.controllers.store_health import StoreHealth, open_project
from orthogui.ui.controllers.training import TrainingController
from orthogui.ui.controllers.uncertainty import UncertaintyController
from orthogui.ui.controllers.undo import UndoRedoController
from orthogui.ui.controllers.visibility import FindingVisibility
from orthogui.ui.dialogs.evaluate import open_evaluate_dialog
from orthogui.ui.dialogs.files import FileCommands
from orthogui.ui.dialogs.inventory import export_inventory_csv
from orthogui.ui.panels.annotations import AnnotationListPanel
from orthogui.ui.panels.categories import CategoryPanel
from orthogui.ui.panels.properties import PropertiesPanel
from orthogui.ui.panels.queue import ReviewQueuePanel
from orthogui.ui.panels.status import PredictionProgress, StatusReadout
from orthogui.ui.services import Services

PREFETCH = 2


class MainWindow(FileCommands, QMainWindow):
    """One project open for review, with what ``services`` holds (store, reviewer, settings,
    reader, model loader); ``predictor`` pre-annotates (None: no model yet)."""

    windows: ClassVar[set[MainWindow]] = set()  # keeps windows opened from a menu alive

    def __init__(self, services: Services, *, predictor: Predictor | None = None) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.services = services
        store = services.store
        self.store, self.model, self.history = store, store.model, store.history
        self.user, self.settings = services.user, services.settings
        self.review = Reviewer(self.model, self.history, user=self.user)
        self.approval = ApprovalController(self)
        self.image_id: str | None = None
        self.radiograph: Radiograph | None = None
        self._gesture, self._error = False, ""
        self._spacings: dict[str, Spacing | None] = {}

        self.canvas = CanvasView()
        self.canvas.setObjectName("CanvasView")
        self.canvas.attach(self.model, self.history, user=self.user)
        self.setCentralWidget(self.canvas)
        cats = self.model.categories
        self.queue_panel = ReviewQueuePanel(self)
        self.findings_panel = AnnotationListPanel(cats, self)
        self.category_panel = CategoryPanel(cats, self)
        self.properties_panel = PropertiesPanel(cats, self)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.addDockWidget(left, self.queue_panel)
        self.addDockWidget(right, self.findings_panel)
        self.addDockWidget(right, self.properties_panel)
        self.addDockWidget(left, self.category_panel)

        self.loader = ImageLoader(self, reader=services.reader)
        self.predict = PreannotateController(
            self.model, self.history, reader=services.reader, predictor=predictor, parent=self
        )
        self.scan = FolderScanController.install(self)  # add files/folders: progress, Cancel
        self.readout = StatusReadout(self.statusBar())
        self.progress = PredictionProgress(self.statusBar(), self.predict)
        self.uncertainty = UncertaintyController.install(self)

        self.action_map = build_actions(self, self._handlers())
        add_category_actions(self, self.model.categories, self.type_key, self.action_map)
        self.dataset_io = DatasetIOController.install(self)  # File: export COCO, import
        self.pacs = PacsController.install(self)  # File: open from PACS, servers; send results
        presets_menu = self.findChild(QMenu, "menu_window_presets")
        assert presets_menu is not None, "the View menu has no window presets"
        self.presets = WindowPresets(presets_menu, self.canvas)
        self.models = install_model_menu(self)
        self.training = TrainingController(self)
        install_help_menu(self, categories=self.model.categories)
        self.patient = PatientDisplay.install(self)
        self.queue_order = QueueOrderMenu.install(self)  # View: how "Sort: uncertainty" orders
        self.store_health = StoreHealth.install(self)
        self._connect()
        self.session = ResumeSession.install(self)  # after _connect: sets the view after fit
        self.visibility = FindingVisibility.install(self)  # after _connect: it refilters the list
        self.undo_redo = UndoRedoController(self)
        self._restore_settings()
        self.queue_panel.set_records(self.model.images(), self._counts())
        self._on_history_changed(None)
        self.update_title()
        MainWindow.windows.add(self)

    # -- wiring -----------------------------------------------------------------------------
    def _handlers(self) -> dict[str, Callable[[], object]]:
        c = self.canvas
        return {
            "new_project": self.new_project,
            "open_project": self.choose_project,
            "open_files": self.choose_files,
            "open_folder": self.choose_folder,
            "inventory": self.show_inventory,
            "export_inventory": lambda: export_inventory_csv(
                self, self.model, dict(self._spacings)
            ),
            "quit": self.close,
            "undo": lambda: self.undo_redo.undo(),
            "redo": lambda: self.undo_redo.redo(),
            "delete": self.delete_selected,
            "fit": self.fit,
            "zoom_in": lambda: self.zoom(1.25),
            "zoom_out": lambda: self.zoom(0.8),
            "next_window": lambda: self.presets.cycle(),
            "show_rejected": lambda: c.set_show_rejected(
                self.action_map["show_rejected"].isChecked()
            ),
            "tool_select": lambda: c.set_tool("select"),
            "tool_polygon": lambda: c.set_tool("polygon"),
            "tool_axis": lambda: c.set_tool("axis"),
            "tool_box": lambda: c.set_tool("box"),
            "tool_ruler": lambda: c.set_tool("ruler"),
            "tool_angle": lambda: c.set_tool("angle"),
            "accept": lambda: self.decide(accept=True),
            "reject": lambda: self.decide(accept=False),
            "accept_all": self.accept_all,
            "approve": lambda: self.approval.approve_and_next(),
            "next_finding": lambda: self.step_finding(+1),
            "prev_finding": lambda: self.step_finding(-1),
            "next_image": lambda: self.step_image(+1),
            "prev_image": lambda: self.step_image(-1),
            "predict_current": lambda: self.preannotate([self.image_id] if self.image_id else []),
            "predict_selected": lambda: self.preannotate(self.queue_panel.selected_ids()),
            "predict_queue": self.preannotate_queue,
            "predict_cancel": self.predict.cancel,
            "evaluate_model": lambda: open_evaluate_dialog(self),
        }

    def _connect(self) -> None:
        c = self.canvas
        c.cursorMoved.connect(self._on_canvas_cursorMoved)
        c.cursorLeft.connect(self.readout.clear_cursor)
        c.windowChanged.connect(self.readout.show_window)
        c.selectionChanged.connect(self._on_canvas_selectionChanged)
        c.toolChanged.connect(self._on_canvas_toolChanged)
        c.measured.connect(self._on_canvas_measured)
        c.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        c.viewport().installEventFilter(self)
        self.queue_panel.imageActivated.connect(self.open_image)
        self.findings_panel.selectionRequested.connect(self._on_findings_selectionRequested)
        self.category_panel.categoryChosen.connect(self.canvas.set_draw_category)
        self.properties_panel.categoryRequested.connect(self._on_properties_categoryRequested)
        self.properties_panel.attributeRequested.connect(self._on_properties_attributeRequested)
        self.properties_panel.simplifyRequested.connect(self.canvas.simplify_selected)
        self.properties_panel.simplifyFinished.connect(self.history.close_merge)
        self.loader.loaded.connect(self._on_loader_loaded)
        self.loader.failed.connect(self._on_loader_failed)
        self.predict.finished.connect(self._on_predict_finished)
        self.predict.imageFailed.connect(self._on_loader_failed)
        m = self.model
        m.annotation_added.connect(self._on_model_annotation_added)
        m.annotation_changed.connect(self._on_model_annotation_changed)
        m.annotation_removed.connect(self._on_model_annotation_removed)
        m.image_changed.connect(self.queue_panel.update_record)
        self.history.changed.connect(self._on_history_changed)

    def _disconnect_model(self) -> None:
        m = self.model
        for sig, slot in (
            (m.annotation_added, self._on_model_annotation_added),
            (m.annotation_changed, self._on_model_annotation_changed),
            (m.annotation_removed, self._on_model_annotation_removed),
            (m.image_changed, self.queue_panel.update_record),
            (self.history.changed, self._on_history_changed),
        ):
            sig.disconnect(slot)

    def _counts(self) -> dict[str, int]:
        return {im.id: len(self.model.annotations(im.id)) for im in self.model.images()}

    # -- images -------------------------------------------------------------------------------
    def open_image(self, image_id: str) -> None:
        """Show an image: its pixels arrive from the loader (latest request wins)."""
        rec = self.model.image(image_id)
        self.image_id = image_id
        self.queue_panel.set_current(image_id)
        self.statusBar().showMessage(f"Loading {Path(rec.path).name}…")
        self.loader.request(image_id, self.store.image_path(rec))

    def _on_loader_loaded(self, image_id: str, rg: Radiograph) -> None:
        if image_id != self.image_id:
            return
        self.radiograph = rg
        self.canvas.set_image(rg)
        self.canvas.show_annotations_of(image_id)
        self.canvas.fit()
        self.readout.set_radiograph(rg)
        self.readout.show_window(
            self.canvas.window_level().center, self.canvas.window_level().width
        )
        self._show_zoom()
        self._spacings[image_id] = rg.pixel_spacing
        self.properties_panel.set_spacing(rg.pixel_spacing, rg.spacing_source)
        self.findings_panel.set_annotations(self.model.annotations(image_id))
        self.properties_panel.show_annotation(None)
        self.presets.set_radiograph(rg)
        self._bookkeep(image_id, rg)
        note, self._error = self._error, ""  # a failed file stays named until the next one
        text = f"{Path(rg.path).name}: {self.presets.note or self.readout.spacing_text(rg)}"
        self.statusBar().showMessage(note or text, 15000)
        ids = self.queue_panel.ordered_ids()
        if image_id in ids:
            nxt = ids[ids.index(image_id) + 1 : ids.index(image_id) + 1 + PREFETCH]
            self.loader.prefetch((i, self.store.image_path(self.model.image(i))) for i in nxt)
            self.predict.prefetch_next(ids[ids.index(image_id) + 1 :], self.store.image_path)
        self.update_title()

    def _bookkeep(self, image_id: str, rg: Radiograph) -> None:
        """Size, spacing, patient facts, "in review" on opening: bookkeeping, not undo steps."""
        rec = self.review.opened_status(image_id) or self.model.image(image_id)
        attrs = with_display_facts(rec.attributes, rg.metadata)  # older imports lack them
        if rg.pixel_spacing is not None and record_spacing(rec) is None:
            attrs["pixel_spacing"] = list(rg.pixel_spacing)
            attrs["spacing_source"] = rg.spacing_source
        new = rec.evolve(width=rg.columns, height=rg.rows, attributes=attrs)
        if new != self.model.image(image_id):
            self.store.update_images([new])

    def _on_loader_failed(self, image_id: str, message: str) -> None:
        self.queue_panel.mark_failed(image_id, message)
        self._error = f"Cannot open {message}"
        self.statusBar().showMessage(self._error, 15000)
        if image_id == self.image_id:
            nxt = self.queue_panel.neighbour(image_id, +1)
            if nxt is not None:
                self.open_image(nxt)

    def step_image(self, step: int) -> None:
        nxt = self.queue_panel.neighbour(self.image_id, step)
        if nxt is not None:
            self.open_image(nxt)

    def add_paths(self, paths: list[Path]) -> None:
        """Add files/folders/DICOMDIRs; the scan runs off the GUI thread (``controllers.scan``)."""
        self.scan.start(paths)

    # -- review --------------------------------------------------------------------------------
    def _targets(self) -> list[str]:
        ids = self.canvas.selected_ids()
        if not ids and self.image_id:
            nxt = self.review.next_proposed(self.image_id, None, skip=self.visibility.hidden())
            ids = [nxt] if nxt else []
        return ids

    def decide(self, *, accept: bool) -> None:
        """A / R: accept or reject the selection (or the first proposal), then go on."""
        if self.image_id is None:
            return
        ids = self._targets()
        done = self.review.accept(ids) if accept else self.review.reject(ids)
        if done and len(ids) == 1:
            nxt = self.review.next_proposed(self.image_id, ids[0], skip=self.visibility.hidden())
            if nxt is not None:
                self.canvas.select([nxt], center=True)

    def accept_all(self) -> None:
        if self.image_id is not None:
            n = self.review.accept_all_remaining(self.image_id, skip=self.visibility.hidden())
            self.statusBar().showMessage(f"Accepted {n} finding(s)", 4000)

    def type_key(self, category: str) -> None:
        """1-5 (and F, V): change the selection's type, or choose the draw category."""
        ids = self.canvas.selected_ids()
        if not (ids and self.review.set_type(ids, category)):
            self.canvas.set_draw_category(category)
            self.category_panel.set_current(category)
            self.statusBar().showMessage(f"Draw category: {category.replace('_', ' ')}", 3000)

    def _canvas_key(self, key: Qt.Key) -> bool:
        """Give the canvas tool first go at a key our shortcuts shadow (Delete)."""
        c = self.canvas  # a selected measurement first, then the tool's vertices
        return c.measures.key(key) or bool(c.tool_object().key(key, Qt.KeyboardModifier.NoModifier))

    def delete_selected(self) -> None:
        if not self._canvas_key(Qt.Key.Key_Delete):  # vertices first, else whole findings
            self.review.delete(self.canvas.selected_ids())

    def step_finding(self, step: int) -> None:
        if self.image_id is None:
            return
        sel = self.canvas.selected_ids()
        show = self.action_map["show_rejected"].isChecked()
        cur, hidden = sel[0] if sel else None, self.visibility.hidden()
        nxt = self.review.neighbour(self.image_id, cur, step, include_rejected=show, skip=hidden)
        if nxt is not None:
            self.canvas.select([nxt], center=True)

    # -- model ---------------------------------------------------------------------------------
    def preannotate(self, image_ids: list[str]) -> None:
        if self.predict.predictor is None:
            self.statusBar().showMessage("No model loaded: pre-annotation is unavailable", 8000)
            return
        jobs = [
            (i, self.store.image_path(self.model.image(i)), self.loader.cached(i))
            for i in image_ids
            if not self.queue_panel.is_failed(i)
        ]
        self.predict.start(jobs)

    def preannotate_queue(self) -> None:
        ids = self.queue_panel.ordered_ids()
        self.preannotate([i for i in ids if self.model.image(i).status == ImageStatus.NEW])

    def _on_predict_finished(self, summary: str) -> None:
        self.progress.hide()
        self.statusBar().showMessage(summary, 8000)
        if self.image_id is not None and self.radiograph is not None:
            self._bookkeep(self.image_id, self.radiograph)

    # -- model signals (psygnal, GUI thread) -------------------------------------------------------
    def _on_model_annotation_added(self, ann: Annotation) -> None:
        self.queue_panel.set_count(ann.image_id, len(self.model.annotations(ann.image_id)))
        if ann.image_id == self.image_id:
            self.findings_panel.added(ann)

    def _on_model_annotation_changed(self, _before: Annotation, after: Annotation) -> None:
        if after.image_id == self.image_id:
            self.findings_panel.changed(after)
            shown = self.properties_panel.annotation()
            if shown is not None and shown.id == after.id:
                self.properties_panel.show_annotation(after)

    def _on_model_annotation_removed(self, ann: Annotation) -> None:
        self.queue_panel.set_count(ann.image_id, len(self.model.annotations(ann.image_id)))
        if ann.image_id == self.image_id:
            self.findings_panel.removed(ann.id)
            shown = self.properties_panel.annotation()
            if shown is not None and shown.id == ann.id:
                self.properties_panel.show_annotation(None)

    def _on_history_changed(self, _event: HistoryEvent | None) -> None:
        self.undo_redo.refresh()

    # -- canvas and panel slots ------------------------------------------------------------------
    def _on_canvas_cursorMoved(self, x: float, y: float) -> None:
        self.readout.show_cursor(x, y)
        self._show_zoom()

    def _on_canvas_selectionChanged(self) -> None:
        ids = self.canvas.selected_ids()
        self.findings_panel.select_ids(ids)
        self.properties_panel.show_annotation(self.model.get(ids[0]) if len(ids) == 1 else None)

    def _on_canvas_toolChanged(self, tool: str) -> None:
        for name in ("select", "polygon", "axis", "box", "ruler", "angle"):
            self.action_map[f"tool_{name}"].setChecked(name == tool)

    def _on_canvas_measured(self, px: float, mm: float) -> None:
        text = f"{px:.1f} px" + (f" = {mm:.1f} mm" if mm == mm and mm > 0 else " (spacing unknown)")
        self.statusBar().showMessage(f"Ruler: {text}", 10000)

    def _on_findings_selectionRequested(self, ids: list[str]) -> None:
        self.canvas.select(ids, center=len(ids) == 1)

    def _on_properties_categoryRequested(self, ann_id: str, category: str) -> None:
        ann = self.model.get(ann_id)
        if ann is not None:
            self.history.push(set_category([ann], category, user=self.user))

    def _on_properties_attributeRequested(self, ann_id: str, name: str, value: str) -> None:
        ann = self.model.get(ann_id)
        if ann is not None:
            self.history.push(set_attributes(ann, {name: value}, user=self.user))

    # -- view ------------------------------------------------------------------------------------
    def fit(self) -> None:
        self.canvas.fit()
        self._show_zoom()

    def zoom(self, factor: float) -> None:
        self.canvas.zoom_at(factor)
        self._show_zoom()

    def _show_zoom(self) -> None:
        self.readout.show_zoom(self.canvas.transform().m11())

    # -- title, gestures, drag & drop ------------------------------------------------------------
    def update_title(self) -> None:
        name = Path(self.store.path).stem
        image = f" — {Path(self.model.image(self.image_id).path).name}" if self.image_id else ""
        note = self.store_health.title_note() + (" •" if self._gesture else "")
        self.setWindowTitle(f"OrthoGUI — {name}{image}{note}")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A gesture on the canvas is "unsaved" from press until its command lands on release
        # (the store writes each command as it is pushed).
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and not self._gesture:
            self._gesture = True
            self.update_title()
        elif kind == QEvent.Type.MouseButtonRelease and self._gesture:
            QTimer.singleShot(0, self._end_gesture)
        return super().eventFilter(watched, event)

    def _end_gesture(self) -> None:
        self._gesture = False
        self.update_title()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # -- projects -------------------------------------------------------------------------------
    def switch_project(self, path: Path, *, create: bool) -> MainWindow:
        from orthogui.io.store import ProjectStore

        store = ProjectStore.create(path, user=self.user) if create else open_project(self, path)
        if store is None:  # in use elsewhere, and the user cancelled
            return self
        # the same reviewer, settings, reader and model loader; the model in use carries over
        win = MainWindow(self.services.for_project(store), predictor=self.predict.predictor)
        win.show()
        win.session.resume()
        self.close()
        return win

    # -- settings and closing ----------------------------------------------------------------------
    def _restore_settings(self) -> None:
        self.resize(1400, 900)
        if self.settings is not None:
            geo, state = self.settings.value("main/geometry"), self.settings.value("main/state")
            if geo is not None:
                self.restoreGeometry(geo)
            if state is not None:
                self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.store_health.confirm_close():  # unsaved edits: copy, lose or stay
            event.ignore()
            return
        if self.settings is not None:
            self.settings.setValue("main/geometry", self.saveGeometry())
            self.settings.setValue("main/state", self.saveState())
            self.settings.setValue("main/last_project", str(self.store.path))
            self.session.save()
            self.settings.sync()
        self.loader.shutdown()
        self.predict.shutdown()
        self.scan.shutdown()
        self.dataset_io.shutdown()
        self.pacs.shutdown()
        self._disconnect_model()
        self.store.close()
        MainWindow.windows.discard(self)
        super().closeEvent(event)
