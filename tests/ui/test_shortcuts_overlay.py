"""Help → Keyboard shortcuts: F1 (a real key on the main window) opens a sheet listing every
command of the ``SHORTCUTS`` table with its keys, grouped by menu; the filter box narrows it
(typing there never triggers a command); Esc closes it; the Help menu opens it too."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLineEdit, QMenu, QTreeWidget, QTreeWidgetItem, QWidget

from orthogui.ui.actions import MENUS, SHORTCUTS
from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier


def sheet_of(win: QWidget) -> QDialog:
    sheet = win.findChild(QDialog, "ShortcutsDialog")
    assert sheet is not None, "no shortcuts sheet was created"
    return sheet


def groups(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    items = (tree.topLevelItem(i) for i in range(tree.topLevelItemCount()))
    return [g for g in items if g is not None]


def visible_rows(tree: QTreeWidget) -> dict[tuple[str, str], str]:
    """(group, command) -> keys of the rows not hidden by the filter."""
    rows: dict[tuple[str, str], str] = {}
    for group in groups(tree):
        if group.isHidden():
            continue
        for row in (group.child(j) for j in range(group.childCount())):
            if row is not None and not row.isHidden():
                rows[(group.text(0), row.text(0))] = row.text(1)
    return rows


def test_f1_opens_the_sheet_of_every_command_filter_and_esc(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui", [write_png16(tmp_path / "a.png")])
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)  # proposals: a leaked "A" would accept one
    steps = len(win.history)

    qtbot.keyClick(win, K.Key_F1)
    sheet = sheet_of(win)
    qtbot.waitUntil(sheet.isVisible, timeout=5000)
    tree = sheet.findChild(QTreeWidget)
    edit = sheet.findChild(QLineEdit)
    assert tree is not None and edit is not None
    assert edit.hasFocus() or sheet.focusWidget() is edit  # type at once to filter

    rows = visible_rows(tree)
    for spec in SHORTCUTS:  # every command of the table, under its menu, with all its keys
        command = spec.text.replace("&", "")
        assert (spec.menu, command) in rows, f"{spec.name} missing from the sheet"
        for key in spec.keys:
            assert key in rows[(spec.menu, command)], f"{spec.name}: {key}"
    assert ("Help", "Keyboard shortcuts") in rows
    assert rows[("Help", "Keyboard shortcuts")] == "F1"
    names = [g.text(0) for g in groups(tree)]
    assert [g for g in names if g != "Categories"] == list(MENUS)  # the menus' order
    assert rows[("Categories", "Fracture")] == "F"  # the project's category keys too
    assert len(rows) >= len(SHORTCUTS)

    qtbot.keyClicks(edit, "accept")  # real keys into the filter box
    narrowed = visible_rows(tree)
    assert ("Review", "Accept") in narrowed and ("Review", "Accept all remaining") in narrowed
    assert ("Edit", "Undo") not in narrowed and ("File", "Quit") not in narrowed
    assert len(narrowed) < len(rows)
    assert len(win.history) == steps  # "a" went to the filter, not to the Accept command
    assert win.findChild(QDialog, "ShortcutsDialog") is sheet

    edit.clear()
    qtbot.keyClicks(edit, "ctrl+shift+z")  # keys match too
    assert list(visible_rows(tree)) == [("Edit", "Redo")]
    edit.clear()
    qtbot.keyClicks(edit, "no such command")
    assert visible_rows(tree) == {}

    qtbot.keyClick(edit, K.Key_Escape)
    qtbot.waitUntil(lambda: not sheet.isVisible(), timeout=5000)
    assert len(win.history) == steps

    # Opened again: the filter starts empty, every command is listed.
    qtbot.keyClick(win, K.Key_F1)
    qtbot.waitUntil(sheet.isVisible, timeout=5000)
    assert edit.text() == "" and visible_rows(tree) == rows
    qtbot.keyClick(sheet, K.Key_Escape)
    qtbot.waitUntil(lambda: not sheet.isVisible(), timeout=5000)
    win.close()


def test_help_menu_opens_the_sheet(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui")
    menu = win.findChild(QMenu, "menu_Help")
    assert menu is not None
    act = next((a for a in menu.actions() if a.objectName() == "action_shortcuts"), None)
    assert act is not None, "Help has no Keyboard shortcuts item"
    assert act.text().replace("&", "") == "Keyboard shortcuts"
    assert [s.toString() for s in act.shortcuts()] == ["F1"]
    bar = win.menuBar()
    qtbot.mouseClick(
        bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu.menuAction()).center()
    )
    qtbot.waitUntil(menu.isVisible, timeout=5000)
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(act).center())
    sheet = sheet_of(win)
    qtbot.waitUntil(sheet.isVisible, timeout=5000)
    qtbot.keyClick(sheet.focusWidget() or sheet, K.Key_Escape)
    qtbot.waitUntil(lambda: not sheet.isVisible(), timeout=5000)
    win.close()
