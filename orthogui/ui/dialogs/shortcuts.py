"""ShortcutsDialog: the keyboard cheat sheet (Help → Keyboard shortcuts, ``F1``), built from the
same ``SHORTCUTS`` table as the menus and the user guide, grouped by menu, with a filter box;
Esc closes it. The project's category keys (1-5, F, V) are a group of their own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from orthogui.core.categories import Category
from orthogui.ui.actions import SHORTCUTS, ActionSpec

ACTION_NAME = "action_shortcuts"
CATEGORY_GROUP = "Categories"


@dataclass(frozen=True)
class SheetRow:
    """One line of the sheet: a command of ``group`` and the keys that run it."""

    group: str
    command: str
    keys: tuple[str, ...]
    help: str

    def matches(self, words: Iterable[str]) -> bool:
        text = " ".join((self.group, self.command, *self.keys, self.help)).lower()
        return all(w in text for w in words)


def _row(s: ActionSpec) -> SheetRow:
    return SheetRow(s.menu, s.text.replace("&", ""), s.keys, s.help)


def sheet_rows(
    specs: Iterable[ActionSpec] = SHORTCUTS, categories: Iterable[Category] = ()
) -> list[SheetRow]:
    """The table's commands in menu order (as in the menus and the guide); the category keys
    follow the Review commands they go with."""
    rows = [_row(s) for s in specs]
    after = max((i + 1 for i, r in enumerate(rows) if r.group == "Review"), default=len(rows))
    rows[after:after] = [
        SheetRow(
            CATEGORY_GROUP,
            c.display_name.capitalize(),
            (c.shortcut,),
            "Set the selected finding's type, or choose what to draw next",
        )
        for c in categories
        if c.shortcut
    ]
    return rows


class _WrappingDelegate(QStyledItemDelegate):
    """Row heights for wrapped text: QTreeView asks for a size hint without the column's width
    or the wrap flag, so a long description would be cut to one line; this passes both in."""

    def __init__(self, tree: QTreeWidget) -> None:
        super().__init__(tree)
        self._tree = tree

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        opt = QStyleOptionViewItem(option)
        opt.features |= QStyleOptionViewItem.ViewItemFeature.WrapText
        width = self._tree.columnWidth(index.column())
        if width > 0:  # the view passes an empty rect: the style wraps only in a valid one
            opt.rect = QRect(0, 0, width, max(1, opt.rect.height()))
        return super().sizeHint(opt, index)


class ShortcutsDialog(QDialog):
    """Every command with its keys; typing in the filter box hides the rows that do not match."""

    COLUMNS = ("Command", "Keys", "What it does")

    def __init__(self, rows: list[SheetRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ShortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self._rows = rows
        self._groups: dict[str, QTreeWidgetItem] = {}
        self._items: dict[str, list[tuple[QTreeWidgetItem, SheetRow]]] = {}  # group -> rows
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("shortcuts_filter")
        self.filter_edit.setPlaceholderText("Filter by command, key or description…")
        self.filter_edit.setClearButtonEnabled(True)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("shortcuts_tree")
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(list(self.COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setItemsExpandable(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the filter box keeps the keys
        self.tree.setWordWrap(True)  # long descriptions wrap rather than end in "…"
        self.tree.setItemDelegateForColumn(2, _WrappingDelegate(self.tree))
        self.empty = QLabel(self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()
        hint = QLabel("<b>F1</b> opens this list · <b>Esc</b> closes it", self)
        hint.setTextFormat(Qt.TextFormat.RichText)
        hint.setEnabled(False)  # drawn dimmed: a hint, not content
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addWidget(hint)
        self._fill()
        self.filter_edit.textChanged.connect(self._on_filter_edit_textChanged)
        self.resize(1000, 720)

    def _fill(self) -> None:
        bold = QFont(self.font())
        bold.setBold(True)
        keys_font = QFont(self.font())
        keys_font.setFamilies(["monospace"])
        keys_font.setStyleHint(QFont.StyleHint.Monospace)
        for row in self._rows:
            group = self._groups.get(row.group)
            if group is None:
                group = QTreeWidgetItem(self.tree, [row.group])
                group.setFont(0, bold)
                group.setFirstColumnSpanned(True)
                self._groups[row.group] = group
                self._items[row.group] = []
            item = QTreeWidgetItem(group, [row.command, ", ".join(row.keys), row.help])
            item.setFont(1, keys_font)
            item.setToolTip(2, row.help)
            self._items[row.group].append((item, row))
        self.tree.expandAll()
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in (0, 1):  # sized once, from every row: columns stay put while filtering
            self.tree.resizeColumnToContents(column)
            self.tree.setColumnWidth(column, self.tree.columnWidth(column) + 24)
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.sectionResized.connect(lambda *_: self.tree.doItemsLayout())  # re-wrap

    def _on_filter_edit_textChanged(self, text: str) -> None:
        words = text.lower().split()
        shown = 0
        for name, items in self._items.items():
            visible = 0
            for item, row in items:
                ok = row.matches(words)
                item.setHidden(not ok)
                visible += ok
            self._groups[name].setHidden(visible == 0)
            shown += visible
        self.empty.setText(f"No command matches “{text.strip()}”")
        self.empty.setVisible(shown == 0)

    def show_sheet(self) -> None:
        """Open with an empty filter and the focus in it, so typing filters at once."""
        self.filter_edit.clear()
        self.tree.scrollToTop()
        parent = self.parentWidget()
        if parent is not None:  # most of the window, centred on it
            size = parent.size()
            self.resize(min(1100, int(size.width() * 0.8)), min(820, int(size.height() * 0.8)))
            centre = parent.mapToGlobal(parent.rect().center())
            self.move(centre.x() - self.width() // 2, centre.y() - self.height() // 2)
        self.open()
        self.raise_()
        self.activateWindow()
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)


def show_shortcuts(window: QMainWindow, categories: Iterable[Category] = ()) -> ShortcutsDialog:
    """The window's sheet (made once, kept as its child), shown; ``categories`` (the project's)
    add their keys."""
    sheet = window.findChild(ShortcutsDialog)
    if sheet is None:
        sheet = ShortcutsDialog(sheet_rows(SHORTCUTS, categories), window)
    sheet.show_sheet()
    return sheet


def install_shortcuts_sheet(
    window: QMainWindow, categories: Iterable[Category] = ()
) -> QAction | None:
    """Make the table's Help → Keyboard shortcuts action (``F1``) open the sheet."""
    act = window.findChild(QAction, ACTION_NAME)
    cats = tuple(categories)
    if act is not None:
        act.triggered.connect(lambda _checked=False: show_shortcuts(window, cats))
    return act
