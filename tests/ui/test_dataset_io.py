"""File → Export dataset (COCO) and File → Import annotations on the real main window: real
keys and clicks, only the native file dialogs stand in (``FakeDialogs``)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from orthogui.core.annotation import ReviewState
from orthogui.core.project import ImageStatus
from orthogui.ui.dialogs.export import ExportDatasetDialog, ImportAnnotationsDialog
from orthogui.ui.main_window import MainWindow
from tests.ui._workbench import write_png16
from tests.ui.test_main_window import make_window
from tests.ui.test_resume_and_folders import FakeDialogs

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton


def click(qtbot, widget: QWidget) -> None:  # type: ignore[no-untyped-def]
    """A real left click inside the widget (near its left edge: radio buttons' labels)."""
    qtbot.mouseClick(widget, LEFT, pos=QPoint(min(8, widget.width() // 2), widget.height() // 2))


def open_dialog(qtbot, win: MainWindow, key: Qt.Key, cls: type[QDialog]) -> QDialog:  # type: ignore[no-untyped-def]
    qtbot.keyClick(win, key, CTRL | SHIFT)
    qtbot.waitUntil(lambda: any(d.isVisible() for d in win.findChildren(cls)), timeout=5000)
    dlg = next(d for d in win.findChildren(cls) if d.isVisible())
    return dlg


def message(qtbot, win: MainWindow, name: str) -> QMessageBox:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: win.findChild(QMessageBox, name) is not None, timeout=5000)
    box = win.findChild(QMessageBox, name)
    assert box is not None
    return box


def ask_export(
    qtbot, win: MainWindow, dialogs: FakeDialogs, out: Path, *, all_images: bool = False
):  # type: ignore[no-untyped-def]
    dlg = open_dialog(qtbot, win, K.Key_E, ExportDatasetDialog)
    assert isinstance(dlg, ExportDatasetDialog)
    assert dlg.approved_radio.isChecked()  # approved only is the default
    dialogs.reply = out.parent
    click(qtbot, dlg.choose_button)
    assert dlg.folder_edit.text() == str(out.parent)
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, out.name)
    if all_images:
        click(qtbot, dlg.all_radio)
        assert dlg.all_radio.isChecked()
    return dlg


# -- export -------------------------------------------------------------------------------------
def test_export_writes_coco_of_the_approved_image_with_progress(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    from pycocotools.coco import COCO

    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / f"img{i}.png", seed=i) for i in range(2)]
    win = make_window(qtbot, tmp_path / "p.orthogui", images)
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)  # three proposals on the first image
    qtbot.keyClick(win, K.Key_A, SHIFT)  # accept them all
    approved = win.image_id
    qtbot.keyClick(win, K.Key_Return)  # approve it (the other image stays new)
    assert approved is not None and win.model.image(approved).status == ImageStatus.APPROVED
    expected = sorted(a.category for a in win.model.annotations(approved))

    dialogs = FakeDialogs(monkeypatch)
    out = tmp_path / "exports" / "snap"
    out.parent.mkdir()
    dlg = ask_export(qtbot, win, dialogs, out)
    seen: list[tuple[int, int]] = []
    win.dataset_io.progress.connect(lambda done, total: seen.append((done, total)))
    with qtbot.waitSignal(win.dataset_io.exported, timeout=20000) as done:
        click(qtbot, dlg.ok_button)
    assert done.args[0].path == out
    assert seen[0] == (0, 1) and seen[-1] == (1, 1)  # n/N images, the approved one only
    box = message(qtbot, win, "datasetExportMessage")
    assert str(out) in box.text() and "1 image(s) and 3 finding(s)" in box.text()

    files = sorted((out / "annotations").glob("*.json"))
    loaded = {f.stem: COCO(str(f)) for f in files}
    with_images = [c for c in loaded.values() if c.getImgIds()]
    assert len(with_images) == 1
    coco = with_images[0]
    img = coco.loadImgs(coco.getImgIds())[0]
    assert (out / img["file_name"]).is_file()
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
    names = sorted(coco.loadCats(a["category_id"])[0]["name"] for a in anns)
    assert names == expected
    assert all(a["area"] > 0 and len(a["bbox"]) == 4 for a in anns)
    assert not win.dataset_io.widget.bar.isVisible()
    box.close()
    win.close()


def test_cancel_mid_export_leaves_no_output_folder(qtbot, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / f"img{i:02}.png", seed=i, size=768) for i in range(40)]
    win = make_window(qtbot, tmp_path / "p.orthogui", images)
    dialogs = FakeDialogs(monkeypatch)
    out = tmp_path / "exports" / "snap"
    out.parent.mkdir()
    dlg = ask_export(qtbot, win, dialogs, out, all_images=True)
    cancel = win.dataset_io.widget.cancel
    seen: list[tuple[int, int]] = []

    def on_progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 1:  # mid-way: one image of 40 written
            click(qtbot, cancel)

    win.dataset_io.progress.connect(on_progress)
    with qtbot.waitSignal(win.dataset_io.cancelled, timeout=30000):
        click(qtbot, dlg.ok_button)
    assert (1, 40) in seen and seen[-1][0] < 40
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary folder left either
    assert "Cancelled" in win.statusBar().currentMessage()
    assert not cancel.isVisible()
    win.close()


# -- import -------------------------------------------------------------------------------------
def coco_file(path: Path, *, image_id: int = 1) -> Path:
    """Two findings on ``img0.png`` (256 x 256), the second on image ``image_id``."""
    data = {
        "images": [{"id": 1, "file_name": "img0.png", "width": 256, "height": 256}],
        "categories": [{"id": 1, "name": "cortical_screw"}, {"id": 2, "name": "fracture"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[20, 20, 120, 20, 120, 40, 20, 40]],
                "bbox": [20, 20, 100, 20],
                "area": 2000,
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": image_id,
                "category_id": 2,
                "bbox": [150, 150, 50, 60],
                "area": 3000,
                "iscrowd": 0,
            },
        ],
    }
    path.write_text(json.dumps(data))
    return path


def ask_import(qtbot, win: MainWindow, dialogs: FakeDialogs, source: Path):  # type: ignore[no-untyped-def]
    dlg = open_dialog(qtbot, win, K.Key_I, ImportAnnotationsDialog)
    assert isinstance(dlg, ImportAnnotationsDialog)
    dialogs.reply = source
    click(qtbot, dlg.file_button)
    assert dlg.path_edit.text() == str(source)
    return dlg


def test_import_coco_is_one_undo_step(qtbot, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / "img0.png")]
    win = make_window(qtbot, tmp_path / "p.orthogui", images)
    image_id = win.image_id
    assert image_id is not None and win.model.annotations(image_id) == []
    source = coco_file(folder / "instances.json")
    dialogs = FakeDialogs(monkeypatch)
    dlg = ask_import(qtbot, win, dialogs, source)
    steps = len(win.history)
    with qtbot.waitSignal(win.dataset_io.imported, timeout=10000) as done:
        click(qtbot, dlg.ok_button)
    report = done.args[0]
    assert report.format == "coco" and report.findings == 2
    assert report.new_images == 0 and report.known_images == 1
    anns = win.model.annotations(image_id)
    assert sorted(a.category for a in anns) == ["cortical_screw", "fracture"]
    assert all(a.review.state == ReviewState.ACCEPTED for a in anns)
    assert len(win.history) == steps + 1  # one undo step
    assert win.findings_panel.tree.topLevelItemCount() == 2
    box = message(qtbot, win, "datasetImportMessage")
    assert "Imported 2 findings" in box.text() and "1 already in the project" in box.text()
    click(qtbot, box.button(QMessageBox.StandardButton.Ok))
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)

    qtbot.keyClick(win, K.Key_Z, CTRL)  # Ctrl+Z takes all of them back
    assert win.model.annotations(image_id) == []
    assert win.findings_panel.tree.topLevelItemCount() == 0
    win.close()


def test_import_with_a_wrong_image_id_names_the_file_and_changes_nothing(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    images = [write_png16(folder / "img0.png")]
    win = make_window(qtbot, tmp_path / "p.orthogui", images)
    before = (list(win.model.images()), list(win.model.annotations()), len(win.history))
    source = coco_file(folder / "bad.json", image_id=7)
    dialogs = FakeDialogs(monkeypatch)
    dlg = ask_import(qtbot, win, dialogs, source)
    with qtbot.waitSignal(win.dataset_io.failed, timeout=10000):
        click(qtbot, dlg.ok_button)
    box = message(qtbot, win, "datasetErrorMessage")
    assert str(source) in box.text() and "image id 7 is not in images" in box.text()
    assert (list(win.model.images()), list(win.model.annotations()), len(win.history)) == before
    box.close()
    win.close()
