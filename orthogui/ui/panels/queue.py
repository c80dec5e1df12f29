"""ReviewQueuePanel: the project's images with review status, filtered and sorted, as a flat
list or grouped patient → study → image; scored images say why they are worth reviewing.

The panel's visible order is the review queue: next/previous image and "approve and next"
follow it (across groups when grouped). Rows update in place when an image record changes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.core.patient import queue_group
from orthogui.core.project import ImageRecord, ImageStatus
from orthogui.ml.diversity import stored_score
from orthogui.ml.scoring import DEFAULT_STRATEGY, QUEUE_STRATEGIES, order_records, sort_value

STATUS_TEXT = {
    ImageStatus.NEW: "new",
    ImageStatus.PRE_ANNOTATED: "pre-annotated",
    ImageStatus.IN_REVIEW: "in review",
    ImageStatus.APPROVED: "approved",
}
STATUS_COLOR = {
    ImageStatus.NEW: "#9aa0a6",
    ImageStatus.PRE_ANNOTATED: "#f2b84b",
    ImageStatus.IN_REVIEW: "#5fa8f5",
    ImageStatus.APPROVED: "#5cc26a",
}
_STATUS_ORDER = list(ImageStatus)
SORTS = ("name", "status", "uncertainty")
ID_ROLE = Qt.ItemDataRole.UserRole
WHY_COLUMN = 4


def _name(rec: ImageRecord) -> str:
    return Path(rec.path).name.lower()


def score_text(value: float) -> str:
    """A score in four characters or so: 0.42, 8.80, 36.2, 124."""
    if abs(value) < 10:
        return f"{value:.2f}"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [c for i in range(item.childCount()) if (c := item.child(i)) is not None]


class ReviewQueuePanel(QDockWidget):
    """Images of the project; emits ``imageActivated(id)`` when the user picks one."""

    imageActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Review queue", parent)
        self.setObjectName("ReviewQueuePanel")
        body = QWidget(self)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.filter_combo = QComboBox(body)
        self.filter_combo.setObjectName("queueFilter")
        self.filter_combo.addItem("All", None)
        for st in ImageStatus:
            self.filter_combo.addItem(STATUS_TEXT[st], st)
        self.sort_combo = QComboBox(body)
        self.sort_combo.setObjectName("queueSort")
        for key in SORTS:
            self.sort_combo.addItem(f"Sort: {key}", key)
        row.addWidget(QLabel("Show", body))
        row.addWidget(self.filter_combo, 1)
        row.addWidget(self.sort_combo, 1)
        lay.addLayout(row)
        self.group_check = QCheckBox("Group by patient", body)
        self.group_check.setObjectName("queueGroupByPatient")
        self.group_check.setToolTip("Show the queue as patient → study → image")
        lay.addWidget(self.group_check)
        self.tree = QTreeWidget(body)
        self.tree.setObjectName("queueTree")
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Image", "Status", "Find.", "Unc.", "Why first"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.tree.header().setStretchLastSection(False)
        for col, width in enumerate((130, 95, 40, 40, 220)):
            self.tree.setColumnWidth(col, width)
        lay.addWidget(self.tree, 1)
        self.summary = QLabel(body)
        self.summary.setObjectName("queueSummary")
        lay.addWidget(self.summary)
        self.setWidget(body)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._records: dict[str, ImageRecord] = {}
        self._counts: dict[str, int] = {}
        self._failed: dict[str, str] = {}
        self._current: str | None = None
        self._deidentified = False
        self.strategy = DEFAULT_STRATEGY  # the order of "Sort: uncertainty"
        self.tree.itemActivated.connect(self._on_tree_itemActivated)
        self.tree.itemClicked.connect(self._on_tree_itemActivated)
        self.filter_combo.currentIndexChanged.connect(self._on_filter_combo_currentIndexChanged)
        self.sort_combo.currentIndexChanged.connect(self._on_sort_combo_currentIndexChanged)
        self.group_check.toggled.connect(self._on_group_check_toggled)

    # -- content --------------------------------------------------------------------------------
    def set_records(self, records: list[ImageRecord], counts: dict[str, int]) -> None:
        self.tree.clear()
        self._items.clear()
        self._records = {r.id: r for r in records}
        self._counts = dict(counts)
        for rec in records:
            item = QTreeWidgetItem()
            item.setData(0, ID_ROLE, rec.id)
            self._items[rec.id] = item
            self._fill(item, rec)
        self._resort()

    def update_record(self, rec: ImageRecord) -> None:
        item = self._items.get(rec.id)
        self._records[rec.id] = rec
        if item is None:
            item = QTreeWidgetItem()
            item.setData(0, ID_ROLE, rec.id)
            self._items[rec.id] = item
            self._fill(item, rec)
            self._resort()
            return
        old_status = item.data(1, ID_ROLE)
        old_group = self._group_key(item)
        self._fill(item, rec)
        resort = self.sort_combo.currentData() != "name" and old_status != rec.status
        if resort or (self.is_grouped() and old_group != self._group_key(item)):
            self._resort()
        else:
            self._apply_filter(item, rec)
            self._update_groups()
        self._update_summary()

    def set_count(self, image_id: str, n: int) -> None:
        self._counts[image_id] = n
        item = self._items.get(image_id)
        if item is not None:
            item.setText(2, str(n) if n else "")

    def mark_failed(self, image_id: str, message: str) -> None:
        self._failed[image_id] = message
        item = self._items.get(image_id)
        if item is not None:
            self._fill(item, self._records[image_id])

    def is_failed(self, image_id: str) -> bool:
        return image_id in self._failed

    def _fill(self, item: QTreeWidgetItem, rec: ImageRecord) -> None:
        item.setText(0, Path(rec.path).name)
        item.setToolTip(0, rec.path)
        failed = self._failed.get(rec.id)
        item.setText(1, "failed" if failed else STATUS_TEXT[rec.status])
        item.setData(1, ID_ROLE, rec.status)
        color = "#e5533d" if failed else STATUS_COLOR[rec.status]
        item.setForeground(1, QBrush(QColor(color)))
        item.setToolTip(1, failed or STATUS_TEXT[rec.status])
        if failed:
            item.setToolTip(0, failed)
        n = self._counts.get(rec.id, 0)
        item.setText(2, str(n) if n else "")
        score = stored_score(rec)
        shown = None if score is None else sort_value(score, self.strategy)
        item.setText(3, "" if shown is None else score_text(shown))
        why = score.why if score is not None else ""
        item.setText(WHY_COLUMN, why)
        tip = f"Why first: {why}" if why else ""
        item.setToolTip(3, tip)
        item.setToolTip(WHY_COLUMN, tip)
        font = item.font(0)
        font.setBold(rec.id == self._current)
        item.setFont(0, font)
        group = queue_group(rec)
        item.setData(2, ID_ROLE, (group.patient_key, group.study_key))

    @staticmethod
    def _group_key(item: QTreeWidgetItem) -> object:
        return item.data(2, ID_ROLE)

    # -- order and filter -----------------------------------------------------------------------
    def _sorted_records(self) -> list[ImageRecord]:
        """The records in the chosen sort. By uncertainty: ``orthogui.ml.scoring``'s order for
        ``self.strategy`` (scored first, unscored last), ties by file name, then id."""
        recs = self._records.values()
        mode = self.sort_combo.currentData()
        if mode == "uncertainty":
            by_name = sorted(recs, key=lambda r: (_name(r), r.id))
            return [self._records[i] for i in order_records(by_name, strategy=self.strategy)]
        if mode == "status":
            return sorted(recs, key=lambda r: (_STATUS_ORDER.index(r.status), _name(r)))
        return sorted(recs, key=_name)

    def resort(self) -> None:
        """Apply the sort again after the values it sorts on changed (e.g. new scores)."""
        self._resort()

    def set_strategy(self, strategy: str) -> None:
        """Order "Sort: uncertainty" by another strategy of ``QUEUE_STRATEGIES``; the Unc.
        column shows the number it sorts on.

        Raises
        ------
        KeyError
            ``strategy`` cannot run on stored scores.
        """
        if strategy not in QUEUE_STRATEGIES:
            raise KeyError(f"strategy {strategy!r} cannot order the queue; use {QUEUE_STRATEGIES}")
        self.strategy = strategy
        for rid, item in self._items.items():
            self._fill(item, self._records[rid])
        self._resort()

    def is_grouped(self) -> bool:
        return self.group_check.isChecked()

    def set_deidentified(self, on: bool) -> None:
        """Group labels without names, IDs or dates (de-identified display)."""
        if on != self._deidentified:
            self._deidentified = on
            self._resort()

    def _resort(self) -> None:
        current_sel = self.selected_ids()
        while (top := self.tree.takeTopLevelItem(0)) is not None:
            for study in top.takeChildren():  # detach image rows before dropping group rows
                study.takeChildren()
        recs = self._sorted_records()
        self.tree.setRootIsDecorated(self.is_grouped())
        if self.is_grouped():
            self._add_grouped(recs)
        else:
            self.tree.addTopLevelItems([self._items[r.id] for r in recs])
        for r in recs:
            self._apply_filter(self._items[r.id], r)
        self._update_groups()
        for i in current_sel:
            if i in self._items:
                self._items[i].setSelected(True)
        self._update_summary()

    def _add_grouped(self, recs: list[ImageRecord]) -> None:
        """Patients by label, studies by date, images in the chosen sort within their study."""
        groups = {r.id: queue_group(r, deidentified=self._deidentified) for r in recs}
        tree: dict[str, dict[str, list[ImageRecord]]] = {}
        for r in recs:
            g = groups[r.id]
            tree.setdefault(g.patient_key, {}).setdefault(g.study_key, []).append(r)

        def first(patient: str) -> ImageRecord:
            return next(iter(tree[patient].values()))[0]

        patients = sorted(tree, key=lambda p: (p == "", groups[first(p).id].patient_label, p))
        for n, patient in enumerate(patients, start=1):
            label = groups[first(patient).id].patient_label
            if self._deidentified and patient:
                label = f"{label} {n}"
            top = self._group_item(label, sum(len(v) for v in tree[patient].values()))
            self.tree.addTopLevelItem(top)
            studies = sorted(
                tree[patient].items(), key=lambda s: (groups[s[1][0].id].study_sort, s[0])
            )
            for m, (study, images) in enumerate(studies, start=1):
                slabel = groups[images[0].id].study_label
                if self._deidentified and study:
                    slabel = f"{slabel} {m}"
                node = self._group_item(slabel, len(images))
                top.addChild(node)
                node.addChildren([self._items[r.id] for r in images])
            for node in (top, *_children(top)):
                node.setFirstColumnSpanned(True)
                node.setExpanded(True)

    def _group_item(self, label: str, n: int) -> QTreeWidgetItem:
        node = QTreeWidgetItem([f"{label} ({n})"])
        node.setFlags(Qt.ItemFlag.ItemIsEnabled)
        node.setToolTip(0, label)
        font = node.font(0)
        font.setBold(True)
        node.setFont(0, font)
        return node

    def _update_groups(self) -> None:
        """A group row shows while any of its images does."""
        for top in self._top_items() if self.is_grouped() else []:
            for study in _children(top):
                study.setHidden(all(image.isHidden() for image in _children(study)))
            top.setHidden(all(study.isHidden() for study in _children(top)))

    def _apply_filter(self, item: QTreeWidgetItem, rec: ImageRecord) -> None:
        wanted = self.filter_combo.currentData()
        item.setHidden(wanted is not None and rec.status != wanted and rec.id != self._current)

    def _update_summary(self) -> None:
        n = len(self._records)
        done = sum(r.status == ImageStatus.APPROVED for r in self._records.values())
        self.summary.setText(f"{done} of {n} images approved")

    # -- queue order ----------------------------------------------------------------------------
    def _top_items(self) -> list[QTreeWidgetItem]:
        count = self.tree.topLevelItemCount()
        return [t for i in range(count) if (t := self.tree.topLevelItem(i)) is not None]

    def _image_items(self) -> list[QTreeWidgetItem]:
        """Image rows top to bottom, through the groups when grouped."""
        tops = self._top_items()
        if not self.is_grouped():
            return tops
        return [image for top in tops for study in _children(top) for image in _children(study)]

    def ordered_ids(self) -> list[str]:
        """The queue as shown (filter, grouping and sort applied)."""
        return [str(it.data(0, ID_ROLE)) for it in self._image_items() if not it.isHidden()]

    def neighbour(
        self, image_id: str | None, step: int, *, skip_approved: bool = False
    ) -> str | None:
        ids = self.ordered_ids()
        if not ids:
            return None
        start = ids.index(image_id) if image_id in ids else (-1 if step > 0 else len(ids))
        i = start + step
        while 0 <= i < len(ids):
            cand = ids[i]
            rec = self._records[cand]
            if (
                not (skip_approved and rec.status == ImageStatus.APPROVED)
                and cand not in self._failed
            ):
                return cand
            i += step
        return None

    def selected_ids(self) -> list[str]:
        items = self.tree.selectedItems()
        return [str(it.data(0, ID_ROLE)) for it in items if it.data(0, ID_ROLE) is not None]

    def set_current(self, image_id: str | None) -> None:
        previous, self._current = self._current, image_id
        for i in (previous, image_id):
            if i is not None and i in self._items:
                self._fill(self._items[i], self._records[i])
        item = self._items.get(image_id or "")
        if item is not None:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(item)
            self.tree.blockSignals(False)
            self.tree.scrollToItem(item)  # opens a collapsed group it lies in

    # -- slots ------------------------------------------------------------------------------------
    def _on_tree_itemActivated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        image_id = item.data(0, ID_ROLE)
        if image_id is not None:  # a patient or study row opens nothing
            self.imageActivated.emit(str(image_id))

    def _on_filter_combo_currentIndexChanged(self, _index: int) -> None:
        for image_id, item in self._items.items():
            self._apply_filter(item, self._records[image_id])
        self._update_groups()

    def _on_group_check_toggled(self, on: bool) -> None:
        indent = 2 * self.tree.indentation() * (1 if on else -1)  # names keep their room
        self.tree.setColumnWidth(0, max(60, self.tree.columnWidth(0) + indent))
        self._resort()
        if self._current in self._items:
            self.set_current(self._current)

    def _on_sort_combo_currentIndexChanged(self, _index: int) -> None:
        self._resort()
