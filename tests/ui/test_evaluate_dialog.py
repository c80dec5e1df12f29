"""Evaluate model…: the dialog runs a (fake) model on the approved images, off the GUI thread,
and shows COCOeval's AP50; no approved images, a broken card, Cancel, saving the report."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from orthogui.core.annotation import Prediction
from orthogui.core.project import ImageRecord, ProjectModel
from orthogui.core.radiograph import Radiograph
from orthogui.ml.card import ModelCard, ModelLoadError
from orthogui.ui.controllers.evaluation import ModelChoice
from orthogui.ui.dialogs.evaluate import EvaluateDialog
from orthogui.ui.services import no_model_loader
from tests.unit.evaluation import _scenario as sc

LEFT = Qt.MouseButton.LeftButton


def read(path: Path) -> Radiograph:
    """A blank 200x200 radiograph named after the image (the fake model keys on the name)."""
    return Radiograph(
        path=str(path), format="png", stored=np.zeros((sc.SIZE, sc.SIZE), np.uint16), bits_stored=12
    )


class ScenarioPredictor:
    """The scenario's predictions for each image; records the threads it ran on."""

    model_name = "fake"
    model_version = "2"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.threads: set[str] = set()
        self.calls = 0
        self.gate = gate

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        return sc.predictions()[Path(radiograph.path).stem]


def make_dialog(qtbot, model: ProjectModel, choices: list[ModelChoice], **kw) -> EvaluateDialog:  # type: ignore[no-untyped-def]
    dialog = EvaluateDialog(
        model,
        choices=choices,
        image_path_of=lambda r: Path(r.path),
        reader=read,
        **{"load_predictor": no_model_loader, **kw},
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_dialog_shows_ap50_equal_to_cocoeval(qtbot, tmp_path: Path) -> None:
    predictor = ScenarioPredictor()
    dialog = make_dialog(qtbot, sc.project(), [ModelChoice("fake 2 (loaded)", predictor=predictor)])
    assert "3 approved image(s) with 5" in dialog.reference_label.text()
    assert dialog.run_button.isEnabled() and not dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.controller.finished, timeout=60000):
        qtbot.mouseClick(dialog.run_button, LEFT)
    assert predictor.calls == 3  # A, B and C; D is not approved
    assert predictor.threads == {"orthogui-evaluate_0"}  # never the GUI thread
    rows = dialog.row_texts()
    for category, kind in ((sc.CORTICAL, "segm"), (sc.FRACTURE, "bbox"), (sc.LOCKING, "segm")):
        expected = sc.cocoeval_ap(kind, category)
        assert rows[category]["AP50"] == f"{expected['AP50']:.3f}"
        assert rows[category]["AP"] == f"{expected['AP']:.3f}"
    # ... and by hand (see the scenario): cortical 0.5, fracture 1.0.
    assert rows[sc.CORTICAL]["AP50"] == "0.500" and rows[sc.FRACTURE]["AP50"] == "1.000"
    assert (
        rows[sc.CORTICAL]["Scored by"] == "mask IoU" and rows[sc.FRACTURE]["Scored by"] == "box IoU"
    )
    assert rows[sc.CORTICAL]["Reference"] == "3" and rows[sc.CORTICAL]["Detections"] == "4"
    assert rows[sc.FRACTURE]["Mask IoU"] == "—"
    assert "cannulated_screw" not in rows  # neither reference nor detections: no row
    assert dialog.progress.value() == 3 and "still proposed" in dialog.status.text()
    # Screw types: the locking screw the model called cortical.
    labels = [
        dialog.confusion.verticalHeaderItem(i).text() for i in range(dialog.confusion.rowCount())
    ]
    r, c = labels.index("locking"), labels.index("cortical")
    assert dialog.confusion.item(r, c).text() == "1"
    # Save: JSON + PR curves, written off the GUI thread.
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.controller.saved, timeout=60000):
        dialog.save_report(tmp_path / "report")
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["model"] == {"name": "fake", "version": "2"}
    assert (tmp_path / "report" / "pr_segm" / "pr_cortical_screw.png").stat().st_size > 0
    assert str(tmp_path / "report") in dialog.status.text()


def test_no_approved_images_says_so(qtbot) -> None:
    model = ProjectModel()
    model.put_image(ImageRecord("x", "x.png", width=10, height=10))
    dialog = make_dialog(qtbot, model, [ModelChoice("fake", predictor=ScenarioPredictor())])
    assert "No approved images" in dialog.reference_label.text()
    assert not dialog.run_button.isEnabled()


def _card(tmp_path: Path) -> ModelCard:
    from orthogui.ml.card import load_card

    path = tmp_path / "broken-1.0.json"
    path.write_text(
        json.dumps(
            {
                "name": "broken",
                "version": "1.0",
                "architecture": "maskrcnn_resnet50_fpn_v2",
                "num_classes": 2,
                "categories": [{"label": 1, "name": "cortical_screw"}],
                "weights": {"file": "missing.safetensors", "sha256": "0" * 64},
            }
        )
    )
    return load_card(path)


def test_failing_model_load_names_the_card_file(qtbot, tmp_path: Path) -> None:
    card = _card(tmp_path)

    def load(c: ModelCard) -> ScenarioPredictor:
        assert threading.current_thread() is not threading.main_thread()
        raise ModelLoadError(c.weights_path, "cannot read the weights")

    dialog = make_dialog(
        qtbot, sc.project(), [ModelChoice("broken 1.0", card=card)], load_predictor=load
    )
    with qtbot.waitSignal(dialog.controller.failed, timeout=30000):
        qtbot.mouseClick(dialog.run_button, LEFT)
    text = dialog.status.text()
    assert str(card.source) in text and "cannot read the weights" in text
    assert dialog.run_button.isEnabled() and dialog.table.rowCount() == 0


def test_card_is_loaded_off_the_gui_thread_and_cancel_stops(qtbot, tmp_path: Path) -> None:
    card = _card(tmp_path)
    gate = threading.Event()
    predictor = ScenarioPredictor(gate)
    loaded: list[ModelCard] = []

    def load(c: ModelCard) -> ScenarioPredictor:
        loaded.append(c)
        return predictor

    dialog = make_dialog(
        qtbot, sc.project(), [ModelChoice("broken 1.0", card=card)], load_predictor=load
    )
    qtbot.mouseClick(dialog.run_button, LEFT)
    qtbot.waitUntil(lambda: predictor.calls == 1, timeout=30000)  # first image, held at the gate
    assert loaded == [card] and dialog.cancel_button.isEnabled()
    with qtbot.waitSignal(dialog.controller.cancelled, timeout=10000):
        qtbot.mouseClick(dialog.cancel_button, LEFT)
    gate.set()
    assert dialog.status.text() == "Evaluation cancelled."
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    qtbot.wait(200)
    assert predictor.calls == 1 and dialog.evaluation is None  # the rest never ran
    # It runs again afterwards, to the end.
    with qtbot.waitSignal(dialog.controller.finished, timeout=60000):
        qtbot.mouseClick(dialog.run_button, LEFT)
    assert dialog.row_texts()[sc.CORTICAL]["AP50"] == "0.500"


@pytest.mark.parametrize("fail_on", ["B"])
def test_unreadable_image_is_left_out_and_named(qtbot, fail_on: str) -> None:
    def reader(path: Path) -> Radiograph:
        if Path(path).stem == fail_on:
            raise OSError(f"{path}: truncated file")
        return read(path)

    dialog = EvaluateDialog(
        sc.project(),
        choices=[ModelChoice("fake", predictor=ScenarioPredictor())],
        image_path_of=lambda r: Path(r.path),
        reader=reader,
        load_predictor=no_model_loader,
    )
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.controller.finished, timeout=60000):
        dialog.run()
    assert "B.png (B.png: truncated file)" in dialog.status.text()
    assert dialog.evaluation is not None and dialog.evaluation.images == 2


def test_model_menu_opens_the_dialog_with_loaded_and_installed_models(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orthogui.io.store import ProjectStore
    from orthogui.ui.main_window import MainWindow
    from orthogui.ui.services import Services
    from tests.ui._workbench import FakePredictor

    models = tmp_path / "models"
    models.mkdir()
    card = _card(models)
    monkeypatch.setenv("ORTHOGUI_MODELS_DIR", str(models))
    win = MainWindow(
        Services(ProjectStore.create(tmp_path / "p.orthogui"), user="t"), predictor=FakePredictor()
    )
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    action = win.action_map["evaluate_model"]
    assert action.text() == "&Evaluate model…"
    action.trigger()
    dialog = win.findChild(EvaluateDialog)
    assert dialog is not None and dialog.isVisible()
    labels = [dialog.model_combo.itemText(i) for i in range(dialog.model_combo.count())]
    assert labels == ["fake 1 (loaded)", f"broken 1.0 — {card.source.name}"]
    assert "No approved images" in dialog.reference_label.text()  # an empty project
    dialog.close()
    qtbot.waitUntil(lambda: win.findChild(EvaluateDialog) is None, timeout=5000)
