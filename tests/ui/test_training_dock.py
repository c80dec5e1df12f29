"""The training dock of the main window: Model → Training… shows it; fine-tuning makes a
snapshot and a job from the project off the GUI thread, runs a (fake) worker and hot-swaps the
promoted model; a stop never blocks the event loop; a reopened window re-attaches to a worker
that outlived it. Fake workers write real protocol events, so no torch trains here."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMenu

from orthogui.core.annotation import Prediction
from orthogui.core.project import ImageStatus
from orthogui.core.radiograph import Radiograph
from orthogui.io.files import records_for
from orthogui.io.store import ProjectStore
from orthogui.ml.card import CardCategory, ModelCard, load_card, save_card
from orthogui.training.launcher import RunRecord, load_record, process_alive, save_record
from orthogui.ui.controllers.training import run_record_path
from orthogui.ui.locations import data_dir
from orthogui.ui.main_window import MainWindow
from orthogui.ui.services import Services, no_model_loader
from orthogui.ui.training.panel import TrainingPanel
from tests.ui._workbench import screw, write_png16

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton

# Reads the job the app wrote, checks its snapshot, reports progress on stdout and in
# events.jsonl like the real worker, then publishes version 2 of the start card.
FAKE_TRAIN = r"""
import json, sys, time
from pathlib import Path
from orthogui.ml.card import load_card
from orthogui.training.promotion import next_version, promote_candidate
from orthogui.training.protocol import Finished, Progress, Started
job = json.loads(Path(sys.argv[1]).read_text())
events = Path(job["output"]) / "events.jsonl"
events.parent.mkdir(parents=True, exist_ok=True)
def say(event):
    with open(events, "a") as f:
        f.write(event.to_json() + "\n")
    print(event.to_json(), flush=True)
train = json.loads((Path(job["snapshot"]) / "annotations" / "train.json").read_text())
say(Started(total_steps=3, train_images=len(train["images"])))
go = Path(job["output"]).parent / "go"
while not go.exists():  # the test looks at the running state, then lets it finish
    time.sleep(0.02)
for s in (1, 2, 3):
    say(Progress(step=s, total_steps=3, epoch=0, loss=1.0 / s, lr=0.01, eta_s=3 - s))
start = load_card(job["start_card"])  # numbered after the start model, as the worker does
version = next_version(job["models_dir"], start.name, after=start.version)
card = promote_candidate(start, job["models_dir"], version=version)
say(Finished(step=3, promoted=True, version=card.version, card=str(card.source), reason="better"))
"""

# Ignores SIGTERM for argv[1] seconds (forever if negative), then says it stopped.
STUBBORN = r"""
import signal, sys, time
from orthogui.training.protocol import Failed, Started
hold = float(sys.argv[1])
got = []
signal.signal(signal.SIGTERM, lambda *a: got.append(1))
print(Started(total_steps=100).to_json(), flush=True)
while not got:
    time.sleep(0.02)
while hold < 0:
    time.sleep(1)
time.sleep(hold)
print(Failed(reason="stopped on request", kind="stopped", step=7, checkpoint="ck.pt").to_json(), flush=True)
"""

# A worker left running by an earlier session: appends to events.jsonl only (its stdout went
# to the GUI that is gone); argv: events file, gate file, job file (its command line names it).
ORPHAN = r"""
import sys, time
from pathlib import Path
from orthogui.training.protocol import Finished, Progress, Started
events, gate = Path(sys.argv[1]), Path(sys.argv[2])
def say(event):
    with open(events, "a") as f:
        f.write(event.to_json() + "\n")
say(Started(total_steps=3, train_images=5))
say(Progress(step=1, total_steps=3, epoch=0, loss=2.0, lr=0.01, eta_s=20))
while not gate.exists():
    time.sleep(0.02)
for s in (2, 3):
    say(Progress(step=s, total_steps=3, epoch=0, loss=2.0 / s, lr=0.01, eta_s=3 - s))
say(Finished(step=3, promoted=False, version="9", card=sys.argv[3], reason="no gain"))
"""


class CardPredictor:
    """A predictor with a model card, loaded like MaskRCNNPredictor (``from_card``) but
    without torch; records the thread each load ran on."""

    loads: list[str] = []

    def __init__(self, card: ModelCard, device: object = "cpu") -> None:
        self.card = card
        self.device = device

    @classmethod
    def from_card(cls, card: ModelCard | Path, *, device: object = None) -> CardPredictor:
        cls.loads.append(threading.current_thread().name)
        return cls(card if isinstance(card, ModelCard) else load_card(card), device)

    @property
    def model_name(self) -> str:
        return self.card.name

    @property
    def model_version(self) -> str:
        return self.card.version

    def predict(self, radiograph: Radiograph) -> list[Prediction]:
        return []


def write_card(models: Path, version: str = "1") -> ModelCard:
    models.mkdir(parents=True, exist_ok=True)
    (models / f"m-{version}.safetensors").write_bytes(b"weights " + version.encode())
    card = ModelCard(
        name="m",
        version=version,
        architecture="maskrcnn_mobilenet_v3_large_fpn_lite",
        num_classes=3,
        categories=(
            CardCategory(1, "cortical_screw", "cortical_screw"),
            CardCategory(2, "fracture", "fracture"),
        ),
        weights_file=f"m-{version}.safetensors",
        weights_sha256="0" * 64,
        metrics={"segm_AP": 0.3},
    )
    return save_card(card, models / f"m-{version}.json")


def make_window(
    qtbot, folder: Path, predictor: object | None, *, images: int = 4, approved: int = 3
) -> MainWindow:
    """A project of ``images`` 16-bit PNGs, the first ``approved`` approved with a finding
    (a model proposal the reviewer accepted: approved images hold reviewed findings only)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    paths = [write_png16(folder / "images" / f"x{i}.png", seed=i) for i in range(images)]
    project = folder / "p.orthogui"
    store = ProjectStore.open(project) if project.exists() else ProjectStore.create(project)
    if not store.model.images():
        store.add_images(records_for(paths))
    records = store.model.images()
    # the app passes MaskRCNNPredictor.from_card; these fakes load like it, without torch
    loader = type(predictor).from_card if predictor is not None else CardPredictor.from_card
    services = Services(store, user="tester", model_loader=loader)
    win = MainWindow(services, predictor=predictor)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    for r in records[:approved]:
        win.predict.apply(r.id, [Prediction("cortical_screw", 0.9, screw(64, 120, 100), "m", "1")])
        win.review.accept_all_remaining(r.id)
    records = store.model.images()
    store.update_images([r.evolve(status=ImageStatus.APPROVED) for r in records[:approved]])
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_dock_is_hidden_until_model_training_is_chosen(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path, None, images=1, approved=0)
    dock, action = win.training.dock, win.action_map["training"]
    assert dock.isHidden() and not action.isChecked()
    menu = win.findChild(QMenu, "menu_Model")
    assert menu is not None and action in menu.actions()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5000)
    qtbot.keyClick(win, Qt.Key.Key_T, CTRL_SHIFT)
    assert dock.isVisible() and action.isChecked()
    assert dock.widget() is win.training.panel
    dock.close()  # the dock's own close button unchecks the action
    assert dock.isHidden() and not action.isChecked()


@pytest.mark.parametrize(
    ("with_model", "approved", "says"),
    [
        (False, 3, "No model is loaded"),
        (True, 0, "at least 2 approved images"),
        (True, 3, "needs at least 5 approved images with cortical_screw; has 3"),
    ],
)
def test_fine_tune_that_cannot_start_says_why_and_starts_nothing(
    qtbot, tmp_path: Path, with_model: bool, approved: int, says: str
) -> None:
    predictor = CardPredictor(write_card(tmp_path / "models")) if with_model else None
    win = make_window(qtbot, tmp_path, predictor, images=3, approved=approved)
    panel = win.training.panel
    win.action_map["training"].trigger()
    qtbot.mouseClick(panel.start_button, LEFT)
    assert says in panel.status_label.text()
    assert says in win.statusBar().currentMessage()
    assert panel.bridge.run is None and not (tmp_path / "training").exists()
    assert panel.start_button.isEnabled()  # fix the project, then try again


def test_fine_tune_refuses_approved_images_with_unreviewed_findings(qtbot, tmp_path: Path) -> None:
    win = make_window(qtbot, tmp_path, CardPredictor(write_card(tmp_path / "models")))
    rec = win.model.images()[1]
    # An image approved before approval required every finding reviewed: a guess left on it.
    win.predict.apply(rec.id, [Prediction("fracture", 0.5, screw(20, 20, 30), "m", "1")])
    win.store.update_images([win.model.image(rec.id).evolve(status=ImageStatus.APPROVED)])
    panel = win.training.panel
    win.action_map["training"].trigger()
    qtbot.mouseClick(panel.start_button, LEFT)
    says = f"approved image x1.png (id {rec.id}) still has 1 proposed finding"
    assert "reviewed findings only" in panel.status_label.text()
    assert says in panel.status_label.text() and says in win.statusBar().currentMessage()
    assert panel.bridge.run is None and not (tmp_path / "training").exists()


def test_fine_tune_snapshots_approved_images_runs_the_job_and_hot_swaps(
    qtbot, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    predictor = CardPredictor(write_card(models))
    win = make_window(qtbot, tmp_path, predictor, images=6, approved=5)
    ctl, panel = win.training, win.training.panel
    ctl.command_for = lambda job: [sys.executable, "-c", FAKE_TRAIN, str(job)]
    CardPredictor.loads.clear()
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)

    win.action_map["training"].trigger()
    qtbot.mouseClick(panel.start_button, LEFT)
    assert "snapshot" in panel.status_label.text() and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.progress.maximum() == 3, timeout=20000)
    timer.stop()
    assert ticks, "the event loop stood still while the snapshot was written"

    # The snapshot: approved images only, as 16-bit PNGs, held-out split not empty.
    (root,) = (tmp_path / "training").glob("*T*Z")
    manifest = json.loads((root / "snapshot" / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["train"]["images"] + counts["val"]["images"] == 5
    assert counts["val"]["images"] >= 1 and counts["test"]["images"] == 0
    pngs = sorted((root / "snapshot" / "images").glob("*.png"))
    assert len(pngs) == 5
    assert cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    job = json.loads((root / "job.json").read_text())
    assert Path(job["start_card"]) == models / "m-1.json"
    # New versions go to the user's data folder, never beside the installed model.
    assert Path(job["models_dir"]) == data_dir() / "models" != models
    assert job["hyper"]["batch_size"] == 2 and job["hyper"]["max_steps"] >= 10

    # While it runs, the worker is recorded for a later session to find.
    record = load_record(run_record_path(tmp_path / "p.orthogui"))
    assert record is not None and record.pid == panel.bridge.run.pid  # type: ignore[union-attr]
    assert record.job == root / "job.json" and record.events == root / "run" / "events.jsonl"
    assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()

    (root / "go").touch()
    qtbot.waitUntil(lambda: win.predict.predictor.model_version == "2", timeout=20000)
    assert isinstance(win.predict.predictor, CardPredictor)
    assert CardPredictor.loads and "MainThread" not in CardPredictor.loads
    assert "version 2 promoted" in panel.status_label.text()
    assert panel.versions.item(0, 0).text() == "2 (current)"
    assert len(panel.plot.points) == 3
    assert not run_record_path(tmp_path / "p.orthogui").exists()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert "m 2" in win.statusBar().currentMessage()


def test_a_window_without_a_model_loader_names_the_card_it_cannot_load(
    qtbot, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    win = make_window(qtbot, tmp_path, CardPredictor(write_card(models)), images=1, approved=0)
    win.training.load_predictor = no_model_loader  # a window built without the app's loader
    card = write_card(models, "2")
    win.training.load_model(card.source)  # type: ignore[arg-type]
    msg = lambda: win.statusBar().currentMessage()  # noqa: E731
    qtbot.waitUntil(lambda: "Cannot load the new model" in msg())
    assert str(card.source) in msg() and "no loader" in msg()
    assert win.predict.predictor.model_version == "1"


def _ticking() -> tuple[QTimer, list[float]]:
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    return timer, ticks


def test_stop_returns_at_once_and_the_event_loop_runs_until_stopped(qtbot, tmp_path: Path) -> None:
    panel = TrainingPanel(models_dir=tmp_path / "models", model_name="m")
    qtbot.addWidget(panel)
    panel.start(tmp_path / "job.json", command=[sys.executable, "-c", STUBBORN, "1.5"])
    qtbot.waitUntil(lambda: panel.progress.maximum() == 100, timeout=20000)
    timer, ticks = _ticking()
    t0 = time.monotonic()
    qtbot.mouseClick(panel.stop_button, LEFT)
    assert time.monotonic() - t0 < 0.25  # the old stop waited here for the worker
    assert panel.status_label.text().startswith("stopping")
    assert not panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: panel.status_label.text().startswith("stopped"), timeout=20000)
    t1 = time.monotonic()
    timer.stop()
    assert t1 - t0 >= 1.4  # the worker really held on to SIGTERM that long
    during = [t for t in ticks if t0 <= t <= t1]
    assert len(during) >= 10 and max(np.diff([t0, *during, t1])) < 1.0
    assert panel.status_label.text() == "stopped at step 7; checkpoint ck.pt"
    assert panel.start_button.isEnabled() is False  # no job factory here: can_start is off


def test_a_worker_deaf_to_sigterm_is_killed_in_the_background(qtbot, tmp_path: Path) -> None:
    panel = TrainingPanel(models_dir=tmp_path / "models", model_name="m")
    qtbot.addWidget(panel)
    panel.bridge.stop_timeout = 1.0
    panel.start(tmp_path / "job.json", command=[sys.executable, "-c", STUBBORN, "-1"])
    qtbot.waitUntil(lambda: panel.progress.maximum() == 100, timeout=20000)
    timer, ticks = _ticking()
    t0 = time.monotonic()
    qtbot.mouseClick(panel.stop_button, LEFT)
    assert time.monotonic() - t0 < 0.25
    qtbot.waitUntil(lambda: panel.status_label.text().startswith("stopped"), timeout=20000)
    t1 = time.monotonic()
    timer.stop()
    run = panel.bridge.run
    assert run is not None and run.wait(10)
    assert run.process.returncode == -9  # type: ignore[attr-defined]
    during = [t for t in ticks if t0 <= t <= t1]
    assert t1 - t0 >= 0.9 and max(np.diff([t0, *during, t1])) < 1.0


def test_reopened_window_reattaches_to_the_running_worker(qtbot, tmp_path: Path) -> None:
    project = tmp_path / "p.orthogui"
    ProjectStore.create(project).close()
    run = tmp_path / "training" / "20250101T000000Z"
    (run / "run").mkdir(parents=True)
    job, events, gate = run / "job.json", run / "run" / "events.jsonl", run / "gate"
    card = write_card(tmp_path / "models")
    job.write_text(
        json.dumps({"models_dir": str(card.source.parent), "start_card": str(card.source)})
    )  # type: ignore[union-attr]
    worker = subprocess.Popen(
        [sys.executable, "-c", ORPHAN, str(events), str(gate), str(job)],
        start_new_session=True,
    )
    try:
        save_record(RunRecord(pid=worker.pid, job=job, events=events), run_record_path(project))
        win = make_window(qtbot, tmp_path, None, images=1, approved=0)
        panel = win.training.panel
        assert win.training.dock.isVisible()
        assert (panel.models_dir, panel.model_name) == (tmp_path / "models", "m")  # from the job
        assert panel.versions.rowCount() == 1
        qtbot.waitUntil(lambda: panel.progress.value() == 1, timeout=20000)
        assert panel.progress.maximum() == 3 and panel.running
        assert "training on cpu (5 images)" in panel.status_label.text()
        assert process_alive(worker.pid, marker=str(job))
        assert panel.stop_button.isEnabled()
        gate.touch()
        qtbot.waitUntil(lambda: "kept as candidate" in panel.status_label.text(), timeout=20000)
        assert "no gain" in panel.status_label.text() and not panel.running
        assert [p[0] for p in panel.plot.points] == [1, 2, 3]
        assert panel.candidate_card == job
        assert not run_record_path(project).exists()
    finally:
        gate.touch()
        worker.wait(20)


def test_recorded_worker_that_died_silently_shows_a_crash(qtbot, tmp_path: Path) -> None:
    project = tmp_path / "p.orthogui"
    ProjectStore.create(project).close()
    events = tmp_path / "training" / "old" / "events.jsonl"
    events.parent.mkdir(parents=True)
    events.write_text(
        '{"event":"started","total_steps":50,"start_step":0,"device":"cpu","world_size":1,'
        '"train_images":4,"val_images":1,"output":""}\n{"event":"progr'  # torn last line
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(20)
    save_record(
        RunRecord(pid=gone.pid, job=events.parent / "job.json", events=events),
        run_record_path(project),
    )
    win = make_window(qtbot, tmp_path, None, images=1, approved=0)
    panel = win.training.panel
    qtbot.waitUntil(lambda: "crashed" in panel.status_label.text(), timeout=20000)
    assert panel.progress.maximum() == 50
    assert f"pid {gone.pid}" in panel.status_label.text()
    assert not run_record_path(project).exists() and not panel.running


@pytest.mark.slow
def test_end_to_end_a_real_worker_fine_tunes_and_the_app_switches_model(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one real run: a random-weights light Mask R-CNN at 128 px, 3 steps on CPU."""
    pytest.importorskip("torch")
    from orthogui.ml.architectures import BuildOptions, build_model
    from orthogui.ml.card import Preprocessing
    from orthogui.ml.predictor import MaskRCNNPredictor
    from orthogui.ml.weights import save_weights
    from orthogui.training import prepare

    base = write_card(tmp_path / "models")
    card = save_weights(
        build_model(base.architecture, BuildOptions(num_classes=3, min_size=128, max_size=128)),
        replace(base, preprocessing=Preprocessing(min_size=128, max_size=128)),
        tmp_path / "models",
    )
    monkeypatch.setattr(prepare, "MAX_STEPS", (3, 3))
    win = make_window(
        qtbot, tmp_path, MaskRCNNPredictor.from_card(card, device="cpu"), images=6, approved=5
    )
    panel = win.training.panel
    t0 = time.monotonic()
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: not panel.running and panel.bridge.run is not None, timeout=180000)
    wall = time.monotonic() - t0
    text = panel.status_label.text()
    assert "promoted" in text or "kept as candidate" in text, text
    assert panel.progress.value() == 3 and len(panel.plot.points) == 3
    if panel.candidate_card is not None:  # random weights rarely beat random weights
        assert not panel.candidate_wins and not panel.promote_button.isEnabled()
        print(f"fine-tune from the app, 3 steps at 128 px on CPU: {wall:.1f} s (kept)")
        return
    qtbot.waitUntil(lambda: win.predict.predictor.model_version == "2", timeout=60000)
    assert isinstance(win.predict.predictor, MaskRCNNPredictor)
    assert win.predict.predictor.card.source == data_dir() / "models" / "m-2.json"
    print(f"fine-tune from the app, 3 steps at 128 px on CPU: {wall:.1f} s")
