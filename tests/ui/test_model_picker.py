"""The Model menu end to end: the model picker (installed cards, "Load model card…", loading
off the GUI thread, hot swap, refusal of broken cards) and the pre-annotate actions for the
current image, the queue selection and the whole queue, with progress and Cancel."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from orthogui.core.annotation import Prediction
from orthogui.core.categories import DEFAULT_CATEGORIES
from orthogui.core.project import ImageStatus
from orthogui.core.radiograph import Radiograph
from orthogui.io.files import records_for
from orthogui.io.store import ProjectStore
from orthogui.ml.card import CardCategory, ModelCard, Preprocessing, save_card
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services
from tests.ui._workbench import screw, show_window, write_png16

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
LITE = "maskrcnn_mobilenet_v3_large_fpn_lite"
R50 = "maskrcnn_resnet50_fpn_v2"


class CountingPredictor:
    """Implements ``Predictor``: one screw per image, counts calls and the images it saw.

    ``gate``: when given, each call waits for it (to hold a batch in flight).
    """

    def __init__(self, name: str, version: str, gate: threading.Event | None = None) -> None:
        self.model_name, self.model_version = name, version
        self.gate = gate
        self.seen: list[str] = []
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.seen)

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        with self._lock:
            self.seen.append(Path(radiograph.path).name)
        if self.gate is not None:
            assert self.gate.wait(20), "test gate never opened"
        v = self.model_version
        return [Prediction("cortical_screw", 0.9, screw(40, 40, 100), self.model_name, v)]


def write_card(
    folder: Path,
    name: str,
    version: str,
    *,
    architecture: str = LITE,
    weights: bytes = b"weights",
    sha256: str | None = None,
) -> ModelCard:
    """A valid card beside a weights file (any bytes; sha256 matching unless given)."""
    folder.mkdir(parents=True, exist_ok=True)
    wfile = folder / f"{name}-{version}.safetensors"
    wfile.write_bytes(weights)
    cats = tuple(CardCategory(c.id, c.name, c.name, c.shape) for c in DEFAULT_CATEGORIES)
    card = ModelCard(
        name=name,
        version=version,
        architecture=architecture,
        num_classes=len(cats) + 1,
        categories=cats,
        weights_file=wfile.name,
        weights_sha256=sha256 or hashlib.sha256(weights).hexdigest(),
        preprocessing=Preprocessing(min_size=128, max_size=128),
    )
    return save_card(card, folder / f"{name}-{version}.json")


class FakeLoader:
    """Stands for ``load_mask_rcnn``: a ``CountingPredictor`` per card, the thread it ran on,
    and an optional gate holding the load back."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.made: dict[str, CountingPredictor] = {}

    def __call__(self, card: ModelCard) -> CountingPredictor:
        self.threads.append(threading.current_thread().name)
        assert self.gate.wait(20), "test gate never opened"
        pred = CountingPredictor(card.name, card.version)
        self.made[f"{card.name} {card.version}"] = pred
        return pred


def open_window(
    qtbot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    predictor: CountingPredictor | None,
    n_images: int = 3,
    statuses: dict[int, ImageStatus] | None = None,
) -> MainWindow:
    """A shown, active window over ``n_images`` PNGs (models dir: tmp_path/models); opens
    nothing yet. ``statuses`` sets the status of some images (by index) beforehand."""
    monkeypatch.setenv("ORTHOGUI_MODELS_DIR", str(tmp_path / "models"))
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    paths = [write_png16(folder / f"img{i}.png", seed=i) for i in range(n_images)]
    store = ProjectStore.create(tmp_path / "p.orthogui")
    added = store.add_images(records_for(paths))
    if statuses:
        store.update_images([added[i].evolve(status=s) for i, s in statuses.items()])
    from orthogui.ml.predictor import MaskRCNNPredictor  # the app's loader (torch)

    win = MainWindow(
        Services(store, user="tester", model_loader=MaskRCNNPredictor.from_card),
        predictor=predictor,
    )
    show_window(qtbot, win)
    return win


def open_first(qtbot, win: MainWindow) -> str:
    with qtbot.waitSignal(win.loader.loaded, timeout=10000):
        win.step_image(+1)
    assert win.image_id is not None
    return win.image_id


def model_actions(win: MainWindow) -> dict[str, object]:
    win.models.refresh()
    return {a.text(): a for a in win.models.entries()}


def versions_of(win: MainWindow, image_id: str) -> list[str]:
    return [a.provenance.model_version or "" for a in win.model.annotations(image_id)]


def test_picker_lists_models_and_hot_swaps_off_the_gui_thread(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    write_card(models, "alpha", "1")
    write_card(models, "alpha", "2")
    write_card(models, "beta", "1", architecture=R50)
    old = CountingPredictor("alpha", "1")
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=old)
    loader = FakeLoader()
    win.models.load = loader
    first = open_first(qtbot, win)

    acts = model_actions(win)
    assert list(acts) == [
        f"alpha 1 — {LITE}",
        f"alpha 2 — {LITE}",
        f"beta 1 — {R50}",
    ]
    assert [a.isChecked() for a in acts.values()] == [True, False, False]
    assert all(a in win.models.menu.actions() for a in acts.values())
    assert win.models.label.label.text() == "alpha 1"

    qtbot.waitUntil(lambda: old.calls == 2, timeout=10000)  # img1, img2 prefetched
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    assert versions_of(win, first) == ["1"] and old.calls == 3

    loader.gate.clear()  # hold the load: the old model stays active meanwhile
    acts[f"alpha 2 — {LITE}"].trigger()
    qtbot.waitUntil(lambda: len(loader.threads) == 1, timeout=5000)
    assert win.models.loading()
    assert win.models.label.label.text() == "loading alpha 2…"
    assert win.predict.predictor is old
    assert acts[f"alpha 1 — {LITE}"].isChecked()
    with qtbot.waitSignal(win.predict.modelChanged, timeout=10000) as changed:
        loader.gate.set()
    new = loader.made["alpha 2"]
    assert changed.args == [new] and win.predict.predictor is new
    assert loader.threads[0] != threading.main_thread().name
    assert loader.threads[0].startswith("orthogui-model-load")
    assert win.models.label.label.text() == "alpha 2"
    acts = model_actions(win)
    assert [a.isChecked() for a in acts.values()] == [False, True, False]

    # The cached result of version 1 is not reused: the new model runs and replaces it.
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    assert versions_of(win, first) == ["2"]
    assert new.calls == 1 and old.calls == 3
    win.close()


def test_broken_cards_are_refused_and_the_old_model_stays(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    models = tmp_path / "models"
    good = write_card(models, "alpha", "1")
    bad_sum = write_card(models, "alpha", "2", sha256="0" * 64)
    foreign = models / "foreign.safetensors"  # readable weights, but not this architecture
    safetensors_numpy.save_file({"backbone.conv.weight": np.zeros((2, 2), np.float32)}, foreign)
    wrong_arch = write_card(models, "alpha", "3", weights=foreign.read_bytes())
    old = CountingPredictor(good.name, good.version)
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=old)  # the real loader
    messages: list[str] = []
    win.models.failed.connect(messages.append)

    for card, reason in ((bad_sum, "sha256 differs"), (wrong_arch, "architecture differs")):
        with qtbot.waitSignal(win.models.failed, timeout=60000):
            model_actions(win)[f"alpha {card.version} — {LITE}"].trigger()
        assert str(card.source) in messages[-1] and reason in messages[-1]
        assert win.predict.predictor is old
        assert win.models.label.label.text() == "alpha 1"
        assert [a.isChecked() for a in model_actions(win).values()] == [True, False, False]
        box = win.findChild(QMessageBox, "modelLoadError")
        assert box is not None and box.isVisible()
        assert reason in box.text() and "Still using: alpha 1" in box.text()
        assert reason in win.statusBar().currentMessage()
        box.close()
        box.deleteLater()

    broken = tmp_path / "elsewhere" / "broken.json"
    broken.parent.mkdir()
    broken.write_text("{ not json", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(broken), ""))
    win.action_map["load_model_card"].trigger()
    assert "broken.json" in messages[-1] and "not valid JSON" in messages[-1]
    assert win.predict.predictor is old
    win.close()


def test_load_model_card_from_elsewhere_and_start_without_a_model(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=None)
    loader = FakeLoader()
    win.models.load = loader
    first = open_first(qtbot, win)
    assert [a.text() for a in model_actions(win).values()] == [
        f"No model installed in {tmp_path / 'models'}"
    ]
    assert win.models.label.label.text() == "no model"
    qtbot.keyClick(win, K.Key_M, CTRL)
    assert win.statusBar().currentMessage().startswith("No model loaded")

    card = write_card(tmp_path / "elsewhere", "gamma", "7", architecture=R50)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(card.source), ""))
    with qtbot.waitSignal(win.predict.modelChanged, timeout=10000):
        win.action_map["load_model_card"].trigger()
    assert win.models.label.label.text() == "gamma 7"
    acts = model_actions(win)
    assert [(t, a.isChecked()) for t, a in acts.items()] == [(f"gamma 7 — {R50}", True)]
    with qtbot.waitSignal(win.predict.finished, timeout=10000):
        qtbot.keyClick(win, K.Key_M, CTRL)
    assert versions_of(win, first) == ["7"]
    assert loader.made["gamma 7"].calls == 1
    win.close()


def test_selected_images_and_whole_queue(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pred = CountingPredictor("alpha", "1")
    win = open_window(
        qtbot, tmp_path, monkeypatch, predictor=pred, n_images=5, statuses={4: ImageStatus.APPROVED}
    )
    open_first(qtbot, win)
    qtbot.waitUntil(lambda: pred.calls == 2, timeout=10000)  # the prefetch of img1 and img2
    ids = win.queue_panel.ordered_ids()
    tree = win.queue_panel.tree
    tree.clearSelection()
    for i in (1, 3):
        tree.topLevelItem(i).setSelected(True)
    assert sorted(win.queue_panel.selected_ids()) == sorted([ids[1], ids[3]])
    with qtbot.waitSignal(win.predict.finished, timeout=10000) as done:
        qtbot.keyClick(win, K.Key_M, CTRL | Qt.KeyboardModifier.AltModifier)
    assert done.args == ["Pre-annotation done: 2 findings on 2 of 2 images"]
    status = [win.model.image(i).status for i in ids]
    assert status[1] == status[3] == ImageStatus.PRE_ANNOTATED
    assert [len(win.model.annotations(i)) for i in ids] == [0, 1, 0, 1, 0]

    with qtbot.waitSignal(win.predict.finished, timeout=10000) as done:
        qtbot.keyClick(win, K.Key_M, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert done.args == ["Pre-annotation done: 2 findings on 2 of 2 images"]  # img0, img2
    assert [len(win.model.annotations(i)) for i in ids] == [1, 1, 1, 1, 0]  # approved: skipped
    assert pred.calls == 4  # img1, img2 prefetched; img3 and img0 run; nothing twice
    assert not win.progress.bar.isVisible()

    with qtbot.waitSignal(win.predict.finished, timeout=10000) as done:
        qtbot.keyClick(win, K.Key_M, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert done.args == ["Pre-annotation: no image to run the model on"]
    win.close()


def test_progress_and_cancel_of_the_whole_queue(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    pred = CountingPredictor("alpha", "1", gate=gate)
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=pred, n_images=4)
    ids = win.queue_panel.ordered_ids()
    qtbot.keyClick(win, K.Key_M, CTRL | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: pred.calls == 1, timeout=10000)  # img0 running, 3 queued
    # A message arriving meanwhile (e.g. "Loading …" of another image) hides no progress.
    win.statusBar().showMessage("a long message", 60000)
    assert win.progress.bar.isVisible() and win.progress.cancel.isVisible()
    assert win.progress.bar.text() == "model 0/4"
    with qtbot.waitSignal(win.predict.finished, timeout=10000) as done:
        qtbot.mouseClick(win.progress.cancel, Qt.MouseButton.LeftButton)
    assert done.args == ["Pre-annotation cancelled after 0 findings on 0 of 4 images"]
    assert not win.progress.bar.isVisible() and not win.progress.cancel.isVisible()
    gate.set()  # the running image finishes into the cache only
    qtbot.waitUntil(lambda: win.predict.cached(ids[0]) is not None, timeout=10000)
    assert pred.calls == 1
    assert win.model.annotations() == []
    assert all(win.model.image(i).status == ImageStatus.NEW for i in ids)

    # A new run after the cancel: the cached image is instant, the others run.
    with qtbot.waitSignal(win.predict.finished, timeout=10000) as done:
        qtbot.keyClick(win, K.Key_M, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert done.args == ["Pre-annotation done: 4 findings on 4 of 4 images"]
    assert pred.calls == 4
    win.close()


def test_versions_published_to_the_data_folder_are_listed(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orthogui.ui.locations import user_models_dir

    write_card(tmp_path / "models", "alpha", "1")
    write_card(user_models_dir(), "alpha", "2")  # what a fine-tune published
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=CountingPredictor("alpha", "1"))
    assert list(model_actions(win)) == [f"alpha 1 — {LITE}", f"alpha 2 — {LITE}"]
    win.close()


def test_an_unreadable_card_is_named_in_the_menu_and_the_others_still_load(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    write_card(models, "alpha", "1")
    (models / "broken-9.json").write_bytes(b"\xff\xfe not utf-8 \x80")
    win = open_window(qtbot, tmp_path, monkeypatch, predictor=CountingPredictor("alpha", "1"))
    win.models.refresh()
    texts = [a.text() for a in win.models.entries()]
    assert texts[0] == f"alpha 1 — {LITE}"
    skipped = [a for a in win.models.entries() if a.objectName() == "action_model_skipped"]
    assert len(skipped) == 1 and not skipped[0].isEnabled()
    assert skipped[0].text().startswith("Skipped broken-9.json: ")
    assert skipped[0] in win.models.menu.actions()
    win.close()
