"""Every key the user guide's shortcut tables document is bound exactly once in the real
main window, and Tab / Shift+Tab (real key events) move the selection between findings."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from orthogui.ui.canvas.view import CANVAS_KEYS, FIT_KEYS
from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"
K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
PORTABLE = QKeySequence.SequenceFormat.PortableText


def guide_keys() -> dict[str, str]:
    """Documented key -> its command, from the ``| Command | Keys | ... |`` tables under
    "## Shortcuts" (the canvas gestures table has no Keys column and is left out)."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("\n## Shortcuts") :]
    keys: dict[str, str] = {}
    keys_column: int | None = None
    for line in section.splitlines():
        if not line.startswith("|"):
            keys_column = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if keys_column is None:
            keys_column = cells.index("Keys") if "Keys" in cells else -1
            continue
        if keys_column < 0 or set(cells[0]) <= {"-"}:
            continue
        for key in re.findall(r"`([^`]+)`", cells[keys_column]):
            assert key not in keys, f"{key} documented twice: {keys[key]}, {cells[0]}"
            keys[key] = cells[0]
    return keys


def portable(key: str) -> str:
    return QKeySequence(key).toString(PORTABLE)


def test_every_documented_key_is_bound_exactly_once(qtbot, tmp_path: Path) -> None:
    documented = guide_keys()
    assert {"Tab", "Shift+Tab", "N", "P", "Return", "Ctrl+Z"} <= set(documented)
    win = make_window(qtbot, tmp_path / "p.orthogui")
    bound: Counter[str] = Counter()  # every (action, key) binding, duplicates included
    for act in win.findChildren(QAction):
        for seq in act.shortcuts():
            if not seq.isEmpty():
                bound[seq.toString(PORTABLE)] += 1
    twice = {k: n for k, n in bound.items() if n > 1}
    assert not twice, f"keys bound more than once (Qt ignores them as ambiguous): {twice}"
    canvas_only = {portable(k) for k in CANVAS_KEYS if k not in FIT_KEYS}
    wrong = {}
    for key, command in documented.items():
        if "drag" in key.lower():  # a mouse gesture, not a key
            continue
        want = 0 if portable(key) in canvas_only else 1  # Esc: the canvas handles it
        if bound[portable(key)] != want:
            wrong[f"{key} ({command})"] = bound[portable(key)]
    assert not wrong, f"documented keys not bound exactly once: {wrong}"
    win.close()


def test_tab_and_shift_tab_step_through_the_findings(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path / "p.orthogui", [write_png16(tmp_path / "a.png")])
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    ids = [a.id for a in win.model.annotations(win.image_id)]
    assert len(ids) == 3 and win.canvas.selected_ids() == []
    qtbot.keyClick(win, K.Key_Tab)
    assert win.canvas.selected_ids() == [ids[0]]
    qtbot.keyClick(win, K.Key_Tab)
    assert win.canvas.selected_ids() == [ids[1]]
    assert win.findings_panel.selected_ids() == [ids[1]]
    # Shift+Tab as the keyboard sends it (Backtab with Shift), and as Tab with Shift.
    qtbot.keyClick(win, K.Key_Backtab, SHIFT)
    assert win.canvas.selected_ids() == [ids[0]]
    qtbot.keyClick(win, K.Key_Tab, SHIFT)
    assert win.canvas.selected_ids() == [ids[2]]  # wraps round
    # From the findings list too: Tab steps through findings rather than moving the focus.
    tree = win.findings_panel.tree
    tree.setFocus()
    qtbot.keyClick(tree, K.Key_Tab)
    assert win.canvas.selected_ids() == [ids[0]]
    win.close()
